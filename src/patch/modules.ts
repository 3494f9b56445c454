import * as path from 'node:path';
import { warnInternal } from '../stderr';
import { installEsmHooks, uninstallEsmHooks, type EsmTarget } from './esm';

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
  /**
   * Patches `exports` in place; or returns what the app gets instead, when the file exports a
   * bare function (readable-stream 3's `pipeline.js`). `basedir` is that copy's root: several
   * copies may be loaded at once.
   */
  patch(file: string, exports: unknown, basedir: string): unknown;
  /**
   * Files of the package's own ESM build (`dist/esm/index.js`), which an `import` loads without
   * any require(): `patch()` gets `{ binding: value }` of the named top-level `bindings` once
   * the module has run (see esm.ts; Node with module.registerHooks only).
   */
  esm?: readonly { file: string; bindings: readonly string[] }[];
}

type RitmHook = { unhook(): void };

let hook: RitmHook | null = null;
let patched = new WeakSet<object>();

/** Patches one copy's file; returns what the app gets (the exports, or the patch's replacement). */
function apply(spec: PackagePatch, file: string, exports: unknown, basedir: string): unknown {
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null || patched.has(exports)) return exports;
  patched.add(exports);
  try {
    const replacement = spec.patch(file, exports, basedir);
    if (replacement !== undefined && replacement !== exports) {
      patched.add(replacement as object);
      return replacement;
    }
  } catch (error) {
    warnInternal(`the ${spec.name} patch`, error);
  }
  return exports;
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
    if (at === -1 || module === undefined) continue;
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

/** Patches each package when the app requires it, and the copies already loaded. */
export function installPackagePatches(specs: readonly PackagePatch[]): void {
  if (hook !== null || specs.length === 0) return;
  const { Hook } = require('require-in-the-middle') as {
    Hook: new (modules: string[], options: { internals: boolean }, onrequire: (exports: unknown, name: string, basedir?: string) => unknown) => RitmHook;
  };
  hook = new Hook(
    specs.map((s) => s.name),
    { internals: true },
    (exports, name, basedir) => {
      const found = basedir === undefined ? null : split(name, specs);
      if (found !== null && found[0].files.includes(found[1])) return apply(found[0], found[1], exports, basedir!);
      return exports;
    },
  );
  patchLoaded(specs);
  installEsm(specs);
}

/** The packages' own ESM builds (esm.ts): `patch()` gets the module's bindings once it ran. */
function installEsm(specs: readonly PackagePatch[]): void {
  const targets: (EsmTarget & { spec: PackagePatch })[] = [];
  for (const spec of specs) for (const esm of spec.esm ?? []) targets.push({ name: spec.name, file: esm.file, bindings: esm.bindings, spec });
  installEsmHooks(targets, (target, bindings, basedir) => {
    const spec = (target as (typeof targets)[number]).spec;
    apply(spec, target.file, bindings, basedir);
  });
}

export function uninstallPackagePatches(): void {
  hook?.unhook();
  hook = null;
  uninstallEsmHooks();
  // the wrappers themselves are removed by unwrapAll(); a later start() patches again
  patched = new WeakSet<object>();
}
