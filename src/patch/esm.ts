import * as dc from 'node:diagnostics_channel';
import * as nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';
import { warnInternal } from '../stderr';

// A package's own ESM build (minipass's `dist/esm/index.js`) is loaded by `import` without any
// require(), so require-in-the-middle never sees it. module.registerHooks (Node 22.15+, 23.5+;
// synchronous, in the loading thread, no loader worker) lets a load hook append one statement
// after the module's last line: once the module has run, it hands its named top-level
// bindings to endguard. Every line and column of the package stays where it was; every other
// module passes through the hook untouched. Node 20 has no registerHooks: there the ESM build
// is not observed (its CJS build, `require('minipass')`, is).
// A registered hook puts every later module load, CJS too, through Node's hook chain (measured
// here: ~40 µs per module, Node 24). So the hook is registered only once the app uses the ESM
// loader: the first `tracing:module.import:start` (published since Node 22.3 for the ESM
// entry point and each dynamic import(), before it resolves). A CommonJS app that never
// imports pays nothing; an ESM graph loaded through require(esm) is not seen.

/** One ESM file to observe: `/node_modules/<name>/<file>` in a module URL. */
export interface EsmTarget {
  name: string;
  file: string;
  bindings: readonly string[];
}

type Loaded = (target: EsmTarget, bindings: Record<string, unknown>, basedir: string) => void;
type LoadResult = { format?: string | null; source?: unknown; shortCircuit?: boolean };
type NextLoad = (url: string, context?: unknown) => LoadResult;
type RegisterHooks = (hooks: { load: (url: string, context: unknown, next: NextLoad) => LoadResult }) => { deregister(): void };

/** The appended statement calls this global (non-enumerable; removed by uninstallEsmHooks). */
const BRIDGE = Symbol.for('endguard.esm');
/** Node's channel for the start of each ESM import (the entry point, dynamic import()), Node 22.3+. */
export const FIRST_IMPORT = 'tracing:module.import:start';

let registration: { deregister(): void } | null = null;
let onFirstImport: (() => void) | null = null;

function identifier(name: string): boolean {
  return /^[A-Za-z_$][\w$]*$/.test(name);
}

/** The statement appended to a target module: never throws, whatever the module declares. */
function epilogue(target: EsmTarget): string {
  const pairs = target.bindings
    .filter(identifier)
    .map((b) => `${b}: typeof ${b} === 'undefined' ? undefined : ${b}`)
    .join(', ');
  return `\n;try { globalThis[Symbol.for('endguard.esm')]?.(import.meta.url, { ${pairs} }); } catch {}\n`;
}

function sourceText(source: unknown): string | null {
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString('utf8');
  if (source instanceof ArrayBuffer) return Buffer.from(source).toString('utf8');
  return null;
}

/** The target and that copy's root for a module URL, or null. */
function match(url: string, targets: readonly EsmTarget[]): { target: EsmTarget; basedir: string } | null {
  if (!url.startsWith('file:')) return null;
  for (const target of targets) {
    const tail = `/node_modules/${target.name}/${target.file}`;
    if (url.endsWith(tail)) {
      const file = fileURLToPath(url);
      return { target, basedir: file.slice(0, file.length - target.file.length - 1) };
    }
  }
  return null;
}

/** Observes the targets' ESM builds where Node can (module.registerHooks), from the app's first import; a no-op elsewhere. */
export function installEsmHooks(targets: readonly EsmTarget[], loaded: Loaded): boolean {
  const register = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (registration !== null || onFirstImport !== null || targets.length === 0 || typeof register !== 'function') return false;
  Object.defineProperty(globalThis, BRIDGE, {
    configurable: true,
    enumerable: false,
    writable: true,
    value: (url: unknown, bindings: Record<string, unknown>) => {
      try {
        const found = typeof url === 'string' ? match(url, targets) : null;
        if (found !== null) loaded(found.target, bindings, found.basedir);
      } catch (error) {
        warnInternal('the ESM module hook', error);
      }
    },
  });
  const first = () => {
    if (onFirstImport !== first) return;
    // unsubscribed on the next tick, never inside the publish
    process.nextTick(() => dc.unsubscribe(FIRST_IMPORT, first));
    onFirstImport = null;
    try {
      registration = register({ load: (url, context, next) => loadHook(url, context, next, targets) });
    } catch (error) {
      warnInternal('the ESM module hook', error);
    }
  };
  onFirstImport = first;
  dc.subscribe(FIRST_IMPORT, first);
  return true;
}

function loadHook(url: string, context: unknown, next: NextLoad, targets: readonly EsmTarget[]): LoadResult {
  const result = next(url, context);
  try {
    if (result.format !== 'module') return result;
    const found = match(url, targets);
    if (found === null) return result;
    const text = sourceText(result.source);
    if (text === null) return result;
    return { ...result, source: text + epilogue(found.target) };
  } catch (error) {
    warnInternal('the ESM module hook', error);
    return result;
  }
}

export function uninstallEsmHooks(): void {
  if (onFirstImport !== null) dc.unsubscribe(FIRST_IMPORT, onFirstImport);
  onFirstImport = null;
  try {
    registration?.deregister();
  } catch {
    // already gone
  }
  registration = null;
  delete (globalThis as Record<symbol, unknown>)[BRIDGE];
}
