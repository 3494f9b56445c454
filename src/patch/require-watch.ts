import { warnInternal } from '../stderr';

// The app's require() calls, seen by a trampoline on Module.prototype.require while anyone
// still watches them: the first call of all (node:stream is patched then, see install.ts), the
// first that reaches a patched package (require-in-the-middle is loaded then, modules.ts), the
// first of node:stream/web (web/load.ts). A watcher returns true once it has seen what it
// waited for; when none is left the trampoline is removed again (or, when someone wrapped
// require over it since, stays as a pass-through). Each require() meanwhile pays the watchers'
// string tests.

/** `parent` is the module making the call (`this` of Module.prototype.require). Returns true when done. */
export type RequireWatcher = (id: string, parent: unknown) => boolean;

type RequireFn = (this: unknown, id: string) => unknown;
const moduleProto = (require('node:module') as { prototype: { require: RequireFn } }).prototype;

let watchers: RequireWatcher[] = [];
/** Watchers added while the others are being told (they wait for the next call). */
let added: RequireWatcher[] = [];
let original: RequireFn | null = null;
let trampoline: RequireFn | null = null;
let notifying = false;

function notify(id: string, parent: unknown): void {
  notifying = true;
  try {
    watchers = watchers.filter((watcher) => {
      try {
        return !watcher(id, parent);
      } catch (error) {
        warnInternal('a require() watcher', error);
        return false;
      }
    });
  } finally {
    notifying = false;
  }
  if (added.length > 0) watchers.push(...added.splice(0));
  if (watchers.length === 0) unwatch();
}

export function watchRequires(watcher: RequireWatcher): void {
  (notifying ? added : watchers).push(watcher);
  if (trampoline !== null) return;
  const first = moduleProto.require;
  original = first;
  const self: RequireFn = function require(this: unknown, id: string) {
    // the watchers' own require() calls (a package hook being loaded) pass through, and so do
    // Node's own (its require('module') for `node -e` comes from a module with no file)
    if (notifying || watchers.length === 0 || typeof id !== 'string' || trampoline !== self || (this as { filename?: unknown } | null)?.filename == null) {
      return first.apply(this, arguments as unknown as [string]);
    }
    const top = moduleProto.require;
    notify(id, this);
    // a watcher wrapped require over this one (require-in-the-middle): this call goes through it, so it is seen too
    if (moduleProto.require !== top) return moduleProto.require.apply(this, arguments as unknown as [string]);
    return first.apply(this, arguments as unknown as [string]);
  };
  // as Node's own (its name is '' on some lines; the bundler renames this one)
  Object.defineProperty(self, 'name', { value: first.name, configurable: true });
  Object.defineProperty(self, 'length', { value: first.length, configurable: true });
  trampoline = self;
  moduleProto.require = self;
}

/** Stops watching: every watcher dropped (stop()). */
export function unwatchRequires(): void {
  watchers = [];
  added = [];
  unwatch();
}

function unwatch(): void {
  if (trampoline !== null && original !== null && moduleProto.require === trampoline) moduleProto.require = original;
  trampoline = null;
  original = null;
}
