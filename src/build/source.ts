import { readFileSync } from 'node:fs';

const MAX_FILES = 32;
const MAX_BYTES = 2 * 1024 * 1024;
const cache = new Map<string, string[] | null>();

/** The file's lines (cached, bounded), or null when it cannot be read. Report path only. */
export function sourceLines(file: string): string[] | null {
  if (cache.has(file)) return cache.get(file) ?? null;
  let lines: string[] | null = null;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length <= MAX_BYTES) lines = text.split(/\r?\n/);
  } catch {
    lines = null;
  }
  if (cache.size >= MAX_FILES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(file, lines);
  return lines;
}

export function sourceLine(file: string, line: number): string | null {
  return sourceLines(file)?.[line - 1] ?? null;
}

/**
 * `res.json(...)` for a call whose method name starts at `column` (V8 points at the property);
 * `ctx.body = ...` for a setter, where V8 points at the `=`.
 */
export function callExpressionAt(text: string, column: number): string | null {
  const start = column - 1;
  // an async frame points at the `await` of its call: the awaited call's callee
  const awaited = /^await\s+([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\(/.exec(text.slice(start));
  if (awaited !== null) return `${awaited[1]!.replace(/\s+/g, '')}(...)`;
  if (/^=(?!=)/.test(text.slice(start))) {
    const target = /([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)+)\s*$/.exec(text.slice(0, start))?.[1];
    return target === undefined ? null : `${target.replace(/\s+/g, '')} = ...`;
  }
  const method = /^[A-Za-z_$][\w$]*/.exec(text.slice(start))?.[0];
  if (method === undefined) return null;
  const before = text.slice(0, start);
  const chain = /[A-Za-z_$][\w$]*(?:\s*(?:\.\s*[A-Za-z_$][\w$]*|\([^()]*\)))*\s*\.\s*$/.exec(before);
  if (chain === null) return `${method}(...)`;
  // the receiver's property path, without the chained calls: `ctx.res.end`, `res.status(400).json` → `res.json`
  const segments = [...chain[0].matchAll(/([A-Za-z_$][\w$]*)|(\([^()]*\))/g)];
  const path = segments.filter((m, i) => m[1] !== undefined && segments[i + 1]?.[2] === undefined).map((m) => m[1]);
  return `${[...path, method].join('.')}(...)`;
}
