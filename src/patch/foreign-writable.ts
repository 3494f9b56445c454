import type { ViolationKind } from '../types';
import { FIRST_DESTROY, FIRST_END, type LateFacts, type Vocabulary } from '../internal-types';
import { lateKind } from '../core/detect';
import { endShape, lateCall, writeShape, type LateShape } from './late';
import { recordClose, recordEnd, recordOf } from './record';
import { Running, idle, type Hook } from './wrap';

// write/end/destroy wrappers for Writable implementations outside node:stream (readable-stream
// 2/3/4, minipass): the same kinds, sites and modes as node:stream (writable.ts), with each
// library's own state, errors and return values. A Family says how one library (one major)
// reads and answers.

/** The library's error for a late call of one kind; `code` null where it raises none. */
export interface LibraryError {
  code: string | null;
  message: string;
}

/** How one stream library reads its state, and what it raises and returns. */
export interface Family {
  /** The hot path's one check: write() on this stream now is late (it carries the library's state, and is ended or destroyed). */
  lateWrite(stream: object): boolean;
  /** The test the library's write() makes (readable-stream 2: `ended`; 3 and 4: `ending`; minipass: its EOF). */
  ended(stream: object): boolean;
  /** end() was called: a later bare end() is a double end. */
  ending(stream: object): boolean;
  destroyed(stream: object): boolean;
  /** The stream carries the library's state (a subclass that never ran the constructor does not). */
  hasState(stream: object): boolean;
  errors: Record<Exclude<ViolationKind, 'headers-after-sent'>, LibraryError>;
  /** enforce drops the kinds the library answers with a throw or an 'error' event; it already drops the others. */
  drops: ReadonlySet<ViolationKind>;
  /** end() returns the stream (readable-stream 3 and 4, minipass); readable-stream 2's returns undefined. */
  endReturnsThis: boolean;
  /** end(chunk) calls this.write(chunk) (readable-stream 2 and 3, minipass): that inner call is the same late call. */
  endWrites: boolean;
  /** The library drops a write to this stream silently (minipass after an abort): enforce leaves it to the library. */
  dropsSilently?(stream: object): boolean;
  /** Hints in the library's terms, where its guards differ from node:stream's (no writableEnded before readable-stream 4). */
  vocabulary?: Vocabulary;
}

/** The hints of a library whose guard for "ended" is `stream.writable` (false once end() ran). */
export function writableGuardVocabulary(): Vocabulary {
  return {
    receiver: 'stream',
    response: false,
    hints: {
      'double-end': (c) => `end() is called twice: keep one ${c.endCall.replace('(...)', '()')} (guard with ${c.target}.writable)`,
      'late-callback': (c) =>
        `a callback wrote after ${c.endCall}: check ${c.target}.writable before ${c.lateCall}, or cancel the pending work when the stream ends`,
    },
  };
}

export interface Shapes {
  write: LateShape;
  end: LateShape;
  /** A write the library itself drops without an error. */
  passWrite: LateShape;
}

const NOTHING: ReadonlySet<ViolationKind> = new Set();

/** What enforce returns for a dropped write() and end() of this family. */
export function shapesOf(family: Family): Shapes {
  return {
    write: writeShape(family.drops),
    end: endShape(family.drops, family.endReturnsThis),
    passWrite: { drops: NOTHING, dropped: () => false },
  };
}

function hasChunk(chunk: unknown): boolean {
  return chunk !== undefined && chunk !== null && typeof chunk !== 'function';
}

function facts(family: Family, stream: object, kind: ViolationKind, method: string): LateFacts {
  const error = kind === 'headers-after-sent' ? null : family.errors[kind];
  return { kind, target: stream, method, record: recordOf(stream), code: error?.code ?? null, message: error?.message, vocabulary: family.vocabulary };
}

/** The stream whose late end() is running the library's own end(): its inner this.write(chunk) is that same call. */
const insideLateEnd = new Running();

export function makeForeignWrite(family: Family, shapes: Shapes) {
  return (original: Function, hook: Hook): Function =>
    function write(this: object) {
      if (idle(hook) || !family.lateWrite(this) || this === insideLateEnd.current) return original.apply(this, arguments);
      const kind = lateKind(family.ended(this), recordOf(this));
      const shape = family.dropsSilently?.(this) === true ? shapes.passWrite : shapes.write;
      return lateCall(hook, facts(family, this, kind, 'write'), shape, this, original, arguments, write);
    };
}

export function makeForeignEnd(family: Family, shapes: Shapes) {
  return (original: Function, hook: Hook): Function => {
    const guarded = family.endWrites
      ? function (this: object) {
          return insideLateEnd.run(this, original, arguments);
        }
      : original;
    return function end(this: object, chunk: unknown) {
      if (idle(hook) || this === insideLateEnd.current || !family.hasState(this)) return original.apply(this, arguments);
      const ending = family.ending(this);
      const destroyed = family.destroyed(this);
      if (!ending && !destroyed) {
        recordEnd(hook, this, FIRST_END, 'end', end);
        return original.apply(this, arguments);
      }
      let kind: ViolationKind;
      if (hasChunk(chunk)) {
        // the chunk is refused only where the library's write() refuses it
        const ended = family.ended(this);
        if (!ended && !destroyed) return original.apply(this, arguments);
        kind = lateKind(ended, recordOf(this));
      } else {
        // a bare end() on a destroyed, never-ended stream loses nothing
        if (!ending) return original.apply(this, arguments);
        kind = 'double-end';
      }
      return lateCall(hook, facts(family, this, kind, 'end'), shapes.end, this, guarded, arguments, end);
    };
  };
}

export function makeForeignDestroy(family: Family) {
  return (original: Function, hook: Hook): Function =>
    function destroy(this: object) {
      if (!idle(hook) && family.hasState(this) && !family.destroyed(this)) {
        // already ended: keep only when the connection went away (for client-disconnect reports)
        if (!family.ending(this)) recordEnd(hook, this, FIRST_DESTROY, 'destroy', destroy);
        else recordClose(hook, this);
      }
      return original.apply(this, arguments);
    };
}
