import * as path from 'node:path';
import type { ViolationKind } from '../types';
import { addStreamImplementation } from './implementations';
import { makeForeignDestroy, makeForeignEnd, makeForeignWrite, shapesOf, writableGuardVocabulary, type Family } from './foreign-writable';
import { makePipe } from './pipe';
import { wrapMethod } from './wrap';

// minipass (7.x; its state is the same in 3.x–6.x): its own stream class, not node:stream.
// write() after end() THROWS `Error('write after end')` (no code); after destroy() it emits
// 'error' with ERR_STREAM_DESTROYED and returns true; after an AbortSignal aborted it, returns
// false silently. end(chunk) calls this.write(chunk); a second end() is ignored. Its state
// lives in module-private symbols (EOF, destroyed, aborted), read here from a probe instance.
// pipe() writes to and ends the destination from minipass's own code (Pipe#end).

type Symbols = { eof: symbol; destroyed: symbol; aborted: symbol | undefined };

function symbolsOf(Minipass: new () => object): Symbols | null {
  const probe = new Minipass();
  const own = Object.getOwnPropertySymbols(probe);
  const find = (description: string) => own.find((s) => s.description === description);
  const eof = find('EOF');
  const destroyed = find('destroyed');
  return eof === undefined || destroyed === undefined ? null : { eof, destroyed, aborted: find('aborted') };
}

const DROPS = new Set<ViolationKind>(['write-after-end', 'write-after-destroy']);

function familyOf({ eof, destroyed, aborted }: Symbols): Family {
  type State = Record<symbol, unknown>;
  return {
    lateWrite: (s) => (s as State)[eof] === true || (s as State)[destroyed] === true,
    ended: (s) => (s as State)[eof] === true,
    ending: (s) => (s as State)[eof] === true,
    destroyed: (s) => (s as State)[destroyed] === true,
    dropsSilently: (s) => aborted !== undefined && (s as State)[aborted] === true,
    hasState: (s) => eof in s,
    errors: {
      'write-after-end': { code: null, message: 'write after end' },
      'write-after-destroy': { code: 'ERR_STREAM_DESTROYED', message: 'Cannot call write after a stream was destroyed' },
      'double-end': { code: null, message: 'Cannot call end after a stream was finished' },
    },
    drops: DROPS,
    endReturnsThis: true,
    endWrites: true,
    vocabulary: writableGuardVocabulary(),
  };
}

/** Patches minipass's exports: its CJS build, or its ESM build's bindings (packages.ts). */
export function patchMinipass(_file: string, exports: unknown, basedir: string): undefined {
  // 7.x: `export class Minipass` (and the CJS build's exports.Minipass); 3.x–4.x: the class is the module
  const Minipass = (typeof exports === 'function' ? exports : (exports as { Minipass?: unknown }).Minipass) as (new () => object) | undefined;
  if (typeof Minipass !== 'function' || typeof Minipass.prototype !== 'object') return undefined;
  const symbols = symbolsOf(Minipass);
  if (symbols === null) return undefined;
  addStreamImplementation(path.join(basedir, 'dist'));
  const family = familyOf(symbols);
  const shapes = shapesOf(family);
  const proto = Minipass.prototype;
  wrapMethod(proto, 'write', 'minipass', makeForeignWrite(family, shapes));
  wrapMethod(proto, 'end', 'minipass', makeForeignEnd(family, shapes));
  wrapMethod(proto, 'destroy', 'minipass', makeForeignDestroy(family));
  wrapMethod(proto, 'pipe', 'minipass', makePipe);
  return undefined;
}
