import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { warnInternal } from '../stderr';
import { installEsmHooks, uninstallEsmHooks, type EsmTarget } from './esm';
import { watchRequires } from './require-watch';

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

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
/** `/node_modules/<dir>/`: in the path of every file of a copy installed as `dir`. */
const markerOf = (dir: string): string => `${NODE_MODULES}${dir}${path.sep}`;

let hook: RitmHook | null = null;
/** Between installPackagePatches() and uninstallPackagePatches(). */
let watching = false;
let patched = new WeakSet<object>();
let onPatched: () => void = () => {};

/** Patches one copy's file; returns what the app gets (the exports, or the patch's replacement). */
function apply(spec: PackagePatch, file: string, exports: unknown, basedir: string): unknown {
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null || patched.has(exports)) return exports;
  patched.add(exports);
  try {
    const replacement = spec.patch(file, exports, basedir);
    onPatched();
    if (replacement === undefined) return exports;
    if (typeof replacement === 'object' || typeof replacement === 'function') patched.add(replacement as object);
    return replacement;
  } catch (error) {
    warnInternal(`the ${spec.name} patch`, error);
    return exports;
  }
}

/** A directory name under node_modules and the package it holds: the package's own name, or an npm alias of it. */
type Installed = readonly (readonly [dir: string, spec: PackagePatch])[];

/** `fastify/lib/reply.js` (require-in-the-middle's name for an internal file) → [fastify's spec, 'lib/reply.js']. */
function split(moduleName: string, installed: Installed): [PackagePatch, string] | null {
  for (const [dir, spec] of installed) {
    if (moduleName === dir) return [spec, ''];
    if (moduleName.startsWith(dir + path.sep)) return [spec, moduleName.slice(dir.length + 1).split(path.sep).join('/')];
  }
  return null;
}

/** Copies loaded before endguard started (programmatic start()): found in the CJS cache. */
function patchLoaded(installed: Installed): void {
  for (const [filename, module] of Object.entries(require.cache)) {
    const at = filename.lastIndexOf(NODE_MODULES);
    // a module still loading has its first exports object, not its final one: left to the hook
    if (at === -1 || module === undefined || !module.loaded) continue;
    const rest = filename.slice(at + NODE_MODULES.length);
    for (const [dir, spec] of installed) {
      if (!rest.startsWith(dir + path.sep)) continue;
      const basedir = filename.slice(0, at + NODE_MODULES.length + dir.length);
      const file = rest.slice(dir.length + 1).split(path.sep).join('/');
      let main = '';
      try {
        main = require.resolve(dir, { paths: [path.dirname(basedir)] });
      } catch {
        // no main entry
      }
      const which = filename === main ? '' : file;
      if (spec.files.includes(which)) apply(spec, which, module.exports, basedir);
    }
  }
}

/**
 * npm aliases of the patched packages that the app declares (`"fastify4": "npm:fastify@4"`):
 * require-in-the-middle matches the directory name under node_modules, which is then the
 * alias. Read from the nearest package.json of the entry script and of the working directory
 * (two small reads at startup; an alias declared deeper in the tree is not seen).
 */
function declaredAliases(specs: readonly PackagePatch[]): Installed {
  const found: [string, PackagePatch][] = [];
  const starts = new Set([process.cwd()]);
  if (typeof process.argv[1] === 'string' && process.argv[1] !== '') starts.add(path.dirname(path.resolve(process.argv[1])));
  for (const start of starts) {
    const manifest = nearestManifest(start);
    if (manifest === null) continue;
    for (const group of [manifest.dependencies, manifest.devDependencies, manifest.optionalDependencies]) {
      if (typeof group !== 'object' || group === null) continue;
      for (const [alias, range] of Object.entries(group as Record<string, unknown>)) {
        const spec = typeof range === 'string' ? specs.find((s) => alias !== s.name && range.startsWith(`npm:${s.name}@`)) : undefined;
        if (spec !== undefined && !found.some(([dir]) => dir === alias)) found.push([alias, spec]);
      }
    }
  }
  return found;
}

function nearestManifest(start: string): Record<string, unknown> | null {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      // none here, or unreadable: look further up
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/** The package a bare require id names (`fastify/lib/x` → fastify, `@hono/node-server` → itself), or null. */
function packageOf(id: string): string | null {
  if (id.startsWith('.') || id.startsWith('/') || id.startsWith('node:') || path.isAbsolute(id)) return null;
  const parts = id.split('/');
  return id.startsWith('@') ? (parts.length > 1 ? `${parts[0]}/${parts[1]}` : null) : (parts[0] ?? null);
}

/** The directories to patch and how to tell a file inside one of them. */
interface Targets {
  installed: Installed;
  dirs: ReadonlySet<string>;
  inside(filename: unknown): boolean;
}

function targetsOf(specs: readonly PackagePatch[]): Targets {
  const installed: Installed = [...specs.map((s) => [s.name, s] as const), ...declaredAliases(specs)];
  const markers = installed.map(([dir]) => markerOf(dir));
  return {
    installed,
    dirs: new Set(installed.map(([dir]) => dir)),
    inside: (filename) => typeof filename === 'string' && filename.includes(NODE_MODULES) && markers.some((m) => filename.includes(m)),
  };
}

/** Installs require-in-the-middle (the hook that patches) and patches the copies already loaded. */
function startHook(installed: Installed): void {
  const { Hook } = require('require-in-the-middle') as {
    Hook: new (modules: string[], options: { internals: boolean }, onrequire: (exports: unknown, name: string, basedir?: string) => unknown) => RitmHook;
  };
  hook = new Hook(
    installed.map(([dir]) => dir),
    { internals: true },
    (exports, name, basedir) => {
      const found = basedir === undefined ? null : split(name, installed);
      if (found !== null && found[0].files.includes(found[1])) return apply(found[0], found[1], exports, basedir!);
      return exports;
    },
  );
  patchLoaded(installed);
}

/**
 * Patches each package when the app requires it, and the copies already loaded. `afterPatch`
 * runs after each patch (a framework in use: its http module is loaded, e.g. for
 * fastify.inject(), which never reaches the channels that patch http at the first request).
 *
 * require-in-the-middle and its `debug` dependency cost 5–6 ms to load, and every later
 * require() a filename resolution: they are loaded at the first require() that reaches one of
 * the packages (by name, or from a file inside one: an ESM app's `import` of a CJS package is
 * seen only through the package's own requires). Until then each require() pays a string test;
 * the app's npm aliases are read at its first require() of a package, not at startup.
 */
export function installPackagePatches(specs: readonly PackagePatch[], afterPatch: () => void = () => {}): void {
  if (watching || specs.length === 0) return;
  watching = true;
  onPatched = afterPatch;
  let targets: Targets | null = null;
  // copies loaded before start() (found by the packages' own names: an alias is not looked up
  // here, that would read the app's package.json at every preload): more may follow, so the
  // hook starts now
  const markers = specs.map((s) => markerOf(s.name));
  if (Object.keys(require.cache).some((f) => markers.some((m) => f.includes(m)))) {
    targets = targetsOf(specs);
    startHook(targets.installed);
  } else {
    watchRequires((id, parent) => {
      if (hook !== null || !watching) return true;
      const name = packageOf(id);
      const from = (parent as { filename?: unknown } | null)?.filename;
      if (name === null && !(typeof from === 'string' && from.includes(NODE_MODULES))) return false;
      targets ??= targetsOf(specs);
      if ((name === null || !targets.dirs.has(name)) && !targets.inside(from)) return false;
      try {
        startHook(targets.installed);
      } catch (error) {
        warnInternal('the package hook', error);
      }
      return true;
    });
  }
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
  watching = false;
  onPatched = () => {};
  uninstallEsmHooks();
  // the wrappers themselves are removed by unwrapAll(); a later start() patches again
  patched = new WeakSet<object>();
}
