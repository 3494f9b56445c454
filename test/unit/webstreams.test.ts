import { describe, expect, it } from 'vitest';
import { cancelOrigin, reasonLabel } from '../../src/core/web-cancel';
import { webVocabulary } from '../../src/core/web-hints';
import { classify, type ClassifyInput } from '../../src/core/classify';
import type { Frame } from '../../src/internal-types';

function frame(file: string, fn: string | null, kind: Frame['kind']): Frame {
  return { file, line: 10, column: 3, fn, fnLine: 0, fnColumn: 0, kind };
}

const core = frame('node:internal/webstreams/readablestream', 'readableStreamCancel', 'internal');
const readerCancel = frame('node:internal/webstreams/readablestream', 'cancel', 'internal');
const hono = frame('/app/node_modules/@hono/node-server/dist/index.mjs', 'cancel', 'dependency');
const emit = frame('node:events', 'emit', 'internal');
const closeNT = frame('node:_http_server', 'emitCloseNT', 'internal');
const serverClose = frame('node:_http_server', 'onServerResponseClose', 'internal');
const user = frame('/app/src/routes.js', 'handler', 'user');

describe('cancelOrigin', () => {
  it("a cancel inside a response's close from a closed socket is a client disconnect", () => {
    expect(cancelOrigin([core, readerCancel, hono, emit, closeNT, serverClose, emit])).toEqual({ httpClose: true, canceller: '@hono/node-server' });
  });
  it('a finished response closing (emitCloseNT from resOnFinish, no onServerResponseClose) is not', () => {
    expect(cancelOrigin([core, readerCancel, hono, emit, closeNT]).httpClose).toBe(false);
  });
  it("no library is named when the app's own code made the cancel", () => {
    expect(cancelOrigin([core, readerCancel, user])).toEqual({ httpClose: false, canceller: null });
    expect(cancelOrigin([core, hono, user]).canceller).toBeNull();
  });
  it("Node's own libraries are named with their frame; its plumbing is not", () => {
    const undici = frame('node:internal/deps/undici/undici', 'cancel', 'internal');
    expect(cancelOrigin([core, undici]).canceller).toBe('fetch (undici, node:internal/deps/undici/undici:10:3)');
    const primordials = frame('node:internal/per_context/primordials', 'SafePromiseAll', 'internal');
    expect(cancelOrigin([core, primordials]).canceller).toBeNull();
  });
});

describe('reasonLabel', () => {
  it('names the code, else the name, never the message', () => {
    expect(reasonLabel(Object.assign(new Error('secret token=1'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }))).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(reasonLabel(new DOMException('secret', 'AbortError'))).toBe('AbortError');
    expect(reasonLabel(new TypeError('secret'))).toBe('TypeError');
    expect(reasonLabel('the user said secret')).toBe('a string');
    expect(reasonLabel(undefined)).toBeNull();
    expect(reasonLabel(['a', 'b'])).toBe('an array');
  });
  it('an object whose getters throw, or odd codes, say nothing of it', () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('no'); } });
    expect(reasonLabel(hostile)).toBe('an object');
    expect(reasonLabel({ code: 'not a code, secret', name: 'has spaces secret' })).toBe('an object');
  });
});

describe('webVocabulary', () => {
  const base: ClassifyInput = {
    kind: 'write-after-destroy',
    method: 'enqueue',
    vocabulary: webVocabulary({ side: 'controller', endMethod: 'cancel', reason: 'AbortError', canceller: null }),
    endFrames: null,
    lateFrames: [],
    endFromPipe: false,
    lateFromPipe: false,
    pipeCount: 0,
    sameExecution: null,
    clientDisconnect: false,
    endCall: null,
    lateCall: 'controller.enqueue(...)',
    between: null,
    headersFlushedBy: null,
    lateHeaderCall: false,
  };

  it("a consumer's cancel: listen for cancel(reason), with the reason's name", () => {
    expect(classify(base)).toEqual({
      cause: 'destroyed',
      hint: "the consumer cancelled the stream (reason: AbortError) before controller.enqueue(...): listen for the consumer's cancel(reason) in the underlying source and stop producing there",
    });
  });
  it('a client disconnect', () => {
    const c = classify({ ...base, clientDisconnect: true });
    expect(c.cause).toBe('client-disconnect');
    expect(c.hint).toMatch(/^the HTTP client disconnected and the server cancelled the body stream before controller\.enqueue\(\.\.\.\)/);
  });
  it('an error: check desiredSize === null', () => {
    const vocabulary = webVocabulary({ side: 'controller', endMethod: 'error', reason: null, canceller: null });
    expect(classify({ ...base, vocabulary, endCall: 'controller.error(...)' }).hint).toBe(
      'controller.error(...) errored the stream before controller.enqueue(...): check controller.desiredSize === null (errored) before enqueueing',
    );
  });
  it("a pipe's AbortSignal; a TransformStream's aborted writable side", () => {
    const signal = webVocabulary({ side: 'controller', endMethod: 'abort', reason: 'AbortError', canceller: null });
    expect(classify({ ...base, vocabulary: signal }).hint).toMatch(/^the pipeTo\(\) was aborted by its AbortSignal \(reason: AbortError\).*signal\.aborted/);
    const writable = webVocabulary({ side: 'controller', endMethod: 'abort', reason: null, canceller: null, endOnWritable: true });
    expect(classify({ ...base, vocabulary: writable }).hint).toMatch(/^the writable side was aborted before controller\.enqueue/);
  });
  it('a close then a late callback: if (closed) return', () => {
    const vocabulary = webVocabulary({ side: 'writer', endMethod: 'close', reason: null, canceller: null });
    const c = classify({ ...base, kind: 'write-after-end', method: 'write', vocabulary, endCall: 'writer.close(...)', lateCall: 'writer.write(...)', sameExecution: false });
    expect(c).toEqual({
      cause: 'late-callback',
      hint: 'a callback wrote after writer.close(...): set a flag where you close and check it (if (closed) return) before writer.write(...), or stop the pending work there',
    });
  });
  it('a double close names the call, known or not', () => {
    const vocabulary = webVocabulary({ side: 'controller', endMethod: null, reason: null, canceller: null });
    expect(classify({ ...base, kind: 'double-end', method: 'close', vocabulary, lateCall: 'controller.close(...)' }).hint).toBe(
      'close() is called twice: keep one controller.close() call, or set a flag where you first call it and check it (if (closed) return)',
    );
  });
});
