import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ViolationKind } from '../types';
import { addStreamImplementation } from './implementations';
import { NODE_DROPS } from './late';
import { makeForeignDestroy, makeForeignEnd, makeForeignWrite, shapesOf, writableGuardVocabulary, type Family } from './foreign-writable';
import { makePipe, makePipeline, makeUnpipe } from './pipe';
import { shareWrapper, wrapExported, wrapMethod } from './wrap';

// The `readable-stream` package: Node's streams as a library, one copy per major a dependency
// pins (winston 3 and winston-transport bring their own 3.x). Each copy has its own
// Writable/Duplex/Readable prototypes, which node:stream's wrappers never see.
// - 4.x (lib/internal/streams/*.js) is Node 18's stream code: write() refuses once
//   `ending` or `destroyed` (ERR_STREAM_WRITE_AFTER_END / ERR_STREAM_DESTROYED, the error
//   deferred, as Node's), end() returns this, Duplex copies Writable's write/end and inherits
//   Readable's destroy.
// - 3.x (lib/_stream_*.js): write() refuses once `ending` (ERR_STREAM_WRITE_AFTER_END, emitted
//   at once); a write after destroy() reaches doWrite and fails with ERR_STREAM_DESTROYED, an
//   'error' event unless autoDestroy (off by default); end(chunk) calls this.write(chunk); a
//   second end() is ignored silently; Writable and Readable share one destroy function.
// - 2.x: write() refuses only once `ended` (set after end()'s synchronous 'finish' work) with
//   a plain Error('write after end') 'error' event, no code; destroy() ends the stream too
//   (Writable#_destroy and Duplex#_destroy call this.end()), so a later write is refused the
//   same way; end() returns undefined; a second end() is ignored.

type WritableState = { ending?: boolean; ended?: boolean; destroyed?: boolean };
type WithState = { _writableState?: WritableState };

const FINISHED = 'Cannot call end after a stream was finished';
const DESTROYED = 'Cannot call write after a stream was destroyed';

function stateFamily(endedKey: 'ending' | 'ended', rest: Omit<Family, 'lateWrite' | 'ended' | 'ending' | 'destroyed' | 'hasState'>): Family {
  return {
    lateWrite: (s) => {
      const ws = (s as WithState)._writableState;
      return ws !== undefined && (ws[endedKey] === true || ws.destroyed === true);
    },
    ended: (s) => (s as WithState)._writableState?.[endedKey] === true,
    ending: (s) => (s as WithState)._writableState?.ending === true,
    destroyed: (s) => (s as WithState)._writableState?.destroyed === true,
    hasState: (s) => (s as WithState)._writableState !== undefined,
    ...rest,
  };
}

const FAMILIES: Record<2 | 3 | 4, Family> = {
  4: stateFamily('ending', {
    errors: {
      'write-after-end': { code: 'ERR_STREAM_WRITE_AFTER_END', message: 'write after end' },
      'write-after-destroy': { code: 'ERR_STREAM_DESTROYED', message: DESTROYED },
      'double-end': { code: 'ERR_STREAM_ALREADY_FINISHED', message: FINISHED },
    },
    drops: NODE_DROPS,
    endReturnsThis: true,
    endWrites: false,
  }),
  3: stateFamily('ending', {
    errors: {
      'write-after-end': { code: 'ERR_STREAM_WRITE_AFTER_END', message: 'write after end' },
      'write-after-destroy': { code: 'ERR_STREAM_DESTROYED', message: DESTROYED },
      'double-end': { code: null, message: FINISHED },
    },
    drops: new Set<ViolationKind>(['write-after-end', 'write-after-destroy']),
    endReturnsThis: true,
    endWrites: true,
    vocabulary: writableGuardVocabulary(),
  }),
  2: stateFamily('ended', {
    errors: {
      'write-after-end': { code: null, message: 'write after end' },
      // its destroy() ends the stream (Writable#_destroy calls this.end()): the same refusal
      'write-after-destroy': { code: null, message: 'write after end' },
      'double-end': { code: null, message: FINISHED },
    },
    drops: new Set<ViolationKind>(['write-after-end', 'write-after-destroy']),
    endReturnsThis: false,
    endWrites: true,
    vocabulary: writableGuardVocabulary(),
  }),
};

/** The major version of the copy at `basedir` (2, 3, 4; 4 for a later major with 4's layout), or null. */
const majors = new Map<string, 2 | 3 | 4 | null>();
function majorOf(basedir: string): 2 | 3 | 4 | null {
  let major = majors.get(basedir);
  if (major !== undefined) return major;
  major = null;
  try {
    const version = (JSON.parse(readFileSync(path.join(basedir, 'package.json'), 'utf8')) as { version?: unknown }).version;
    const n = typeof version === 'string' ? Number.parseInt(version, 10) : NaN;
    if (n === 2 || n === 3) major = n;
    else if (n >= 4) major = 4;
  } catch {
    // unreadable: leave this copy alone
  }
  majors.set(basedir, major);
  return major;
}

type Ctor = { prototype?: object };

/** Each copy's prototypes whose destroy() is patched: 2.x and 3.x give Readable and Writable one function, which keeps one wrapper. */
const destroyPatched = new Map<string, object[]>();

function patchDestroy(proto: object | undefined, family: Family, label: string, basedir: string): void {
  if (proto === undefined) return;
  const others = destroyPatched.get(basedir) ?? [];
  if (!others.some((other) => shareWrapper(proto, 'destroy', other, 'destroy'))) wrapMethod(proto, 'destroy', label, makeForeignDestroy(family));
  destroyPatched.set(basedir, [...others, proto]);
}

function patchWritablePrototype(proto: object | undefined, family: Family, label: string, destroy: boolean, basedir: string): void {
  const shapes = shapesOf(family);
  wrapMethod(proto, 'write', label, makeForeignWrite(family, shapes));
  wrapMethod(proto, 'end', label, makeForeignEnd(family, shapes));
  if (destroy) patchDestroy(proto, family, label, basedir);
}

function patchReadablePrototype(proto: object | undefined, family: Family, label: string, basedir: string): void {
  wrapMethod(proto, 'pipe', label, makePipe);
  wrapMethod(proto, 'unpipe', label, makeUnpipe);
  // Duplex inherits it (4.x) or shares it with Writable (2.x, 3.x); pure Readables have no writable state
  patchDestroy(proto, family, label, basedir);
}

const V4_FILES: Record<string, 'writable' | 'duplex' | 'readable' | 'pipeline'> = {
  'lib/internal/streams/writable.js': 'writable',
  'lib/internal/streams/duplex.js': 'duplex',
  'lib/internal/streams/readable.js': 'readable',
  'lib/internal/streams/pipeline.js': 'pipeline',
  'lib/stream/promises.js': 'pipeline',
};
const V2_V3_FILES: Record<string, 'writable' | 'duplex' | 'readable' | 'pipeline'> = {
  'lib/_stream_writable.js': 'writable',
  'lib/_stream_duplex.js': 'duplex',
  'lib/_stream_readable.js': 'readable',
  // 3.x only; it exports the bare function: the wrapper replaces it
  'lib/internal/streams/pipeline.js': 'pipeline',
};

/** Patches one file of a readable-stream copy (the list is in packages.ts). */
export function patchReadableStream(file: string, exports: unknown, basedir: string): unknown {
  const major = majorOf(basedir);
  if (major === null) return undefined;
  const role = (major === 4 ? V4_FILES : V2_V3_FILES)[file];
  if (role === undefined) return undefined;
  addStreamImplementation(path.join(basedir, 'lib'));
  const family = FAMILIES[major];
  const label = `readable-stream@${major}`;
  const ctor = exports as Ctor;
  switch (role) {
    case 'writable':
      patchWritablePrototype(ctor.prototype, family, `${label} Writable`, true, basedir);
      return undefined;
    case 'duplex':
      // own copies of Writable's write/end (copied when this file ran: already our wrappers
      // when writable.js was patched first, and then left as they are)
      patchWritablePrototype(ctor.prototype, family, `${label} Duplex`, Object.prototype.hasOwnProperty.call(ctor.prototype ?? {}, 'destroy'), basedir);
      return undefined;
    case 'readable':
      patchReadablePrototype(ctor.prototype, family, `${label} Readable`, basedir);
      return undefined;
    case 'pipeline':
      // 3.x's pipeline.js exports the function itself: the wrapper replaces it
      if (typeof exports === 'function') return wrapExported(exports, 'pipeline', label, makePipeline);
      wrapMethod(exports as object, 'pipeline', label, makePipeline);
      return undefined;
  }
}
