import * as path from 'node:path';
import { warnInternal } from '../stderr';

/** A package patched when the app loads it (any copy of it, CJS, or ESM importing its CJS files). */
export interface PackagePatch {
  /** The npm package name. */
  name: string;
  /**
   * Files inside the package whose exports are patched, relative to its root (`lib/reply.js`);
   * `''` is its main entry. An ESM app's `import` of a CJS package reaches endguard only
   * through the package's own require() calls, so internal files are the reliable target.
   */
  files: readonly string[];
  /** Patches `exports` in place. `basedir` is that copy's root: several copies may be loaded at once. */
  patch(file: string, exports: unknown, basedir: string): void;
}

type RitmHook = { unhook(): void };

let hook: RitmHook | null = null;
let patched = new WeakSet<object>();

function apply(spec: PackagePatch, file: string, exports: unknown, basedir: string): void {
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null || patched.has(exports)) return;
  patched.add(exports);
  try {
    spec.patch(file, exports, basedir);
  } catch (error) {
    warnInternal(`the ${spec.name} patch`, error);
  }
}

/** `fastify/lib/reply.js` (require-in-the-middle's name for an internal file) → ['fastify', 'lib/reply.js']. */
function split(moduleName: string, specs: readonly PackagePatch[]): [PackagePatch, string] | null {
  for (const spec of specs) {
    if (moduleName === spec.name) return [spec, ''];
    if (moduleName.startsWith(spec.name + path.sep)) return [spec, moduleName.slice(spec.name.length + 1).split(path.sep).join('/')];
  }
  return null;
}

/** Copies loaded before endguard started (programmatic start()): found in the CJS cache. */
function patchLoaded(specs: readonly PackagePatch[]): void {
  const marker = `${path.sep}node_modules${path.sep}`;
  for (const [filename, module] of Object.entries(require.cache)) {
    const at = filename.lastIndexOf(marker);
    // a module still loading has its first exports object, not its final one: left to the hook
    if (at === -1 || module === undefined || !module.loaded) continue;
    const rest = filename.slice(at + marker.length);
    for (const spec of specs) {
      if (!rest.startsWith(spec.name + path.sep)) continue;
      const basedir = filename.slice(0, at + marker.length + spec.name.length);
      const file = rest.slice(spec.name.length + 1).split(path.sep).join('/');
      let main = '';
      try {
        main = require.resolve(spec.name, { paths: [path.dirname(basedir)] });
      } catch {
        // no main entry
      }
      const which = filename === main ? '' : file;
      if (spec.files.includes(which)) apply(spec, which, module.exports, basedir);
    }
  }
}

type RequireFn = (this: unknown, id: string) => unknown;
const moduleProto = (require('node:module') as { prototype: { require: RequireFn } }).prototype;
let original: RequireFn | null = null;
let trampoline: RequireFn | null = null;

/** The package a bare require id names (`fastify/lib/x` → fastify, `@hono/node-server` → itself), or null. */
function packageOf(id: string): string | null {
  if (id.startsWith('.') || id.startsWith('/') || id.startsWith('node:') || path.isAbsolute(id)) return null;
  const parts = id.split('/');
  return id.startsWith('@') ? (parts.length > 1 ? `${parts[0]}/${parts[1]}` : null) : (parts[0] ?? null);
}

/** Installs require-in-the-middle (the hook that patches) and patches the copies already loaded. */
function startHook(specs: readonly PackagePatch[]): void {
  const { Hook } = require('require-in-the-middle') as {
    Hook: new (modules: string[], options: { internals: boolean }, onrequire: (exports: unknown, name: string, basedir?: string) => unknown) => RitmHook;
  };
  hook = new Hook(
    specs.map((s) => s.name),
    { internals: true },
    (exports, name, basedir) => {
      const found = basedir === undefined ? null : split(name, specs);
      if (found !== null && found[0].files.includes(found[1])) apply(found[0], found[1], exports, basedir!);
      return exports;
    },
  );
  patchLoaded(specs);
}

/**
 * Patches each package when the app requires it, and the copies already loaded.
 * require-in-the-middle and its `debug` dependency cost 5–6 ms to load and every later
 * require() a filename resolution: they are loaded at the first require() that reaches one of
 * the packages (by name, or from a file inside one: an ESM app's `import` of a CJS package is
 * seen only through the package's own requires). Until then each require() pays one string test.
 */
export function installPackagePatches(specs: readonly PackagePatch[]): void {
  if (trampoline !== null || specs.length === 0) return;
  const names = new Set(specs.map((s) => s.name));
  const markers = specs.map((s) => `${path.sep}node_modules${path.sep}${s.name}${path.sep}`);
  const inside = (filename: unknown) => typeof filename === 'string' && filename.includes(`${path.sep}node_modules${path.sep}`) && markers.some((m) => filename.includes(m));
  const loaded = Object.keys(require.cache).some(inside);
  const first = moduleProto.require;
  original = first;
  trampoline = function require(this: unknown, id: string) {
    if (hook === null && trampoline !== null && typeof id === 'string') {
      const name = packageOf(id);
      if ((name !== null && names.has(name)) || inside((this as { filename?: unknown } | null)?.filename)) {
        try {
          startHook(specs);
        } catch (error) {
          warnInternal('the package hook', error);
        }
        // once: require-in-the-middle now wraps us; this call goes through it so it is seen too
        if (hook !== null) return moduleProto.require.apply(this, arguments as unknown as [string]);
      }
    }
    return first.apply(this, arguments as unknown as [string]);
  };
  moduleProto.require = trampoline;
  // copies loaded before start(): more may follow, so the hook starts now
  if (loaded) startHook(specs);
}

export function uninstallPackagePatches(): void {
  hook?.unhook();
  hook = null;
  if (trampoline !== null && original !== null && moduleProto.require === trampoline) moduleProto.require = original;
  // wrapped over by someone else since: the trampoline stays, as a pass-through (hook is null
  // and `trampoline` no longer matches)
  trampoline = null;
  original = null;
  // the wrappers themselves are removed by unwrapAll(); a later start() patches again
  patched = new WeakSet<object>();
}
