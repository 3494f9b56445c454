import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { classify, type ClassifyInput } from '../../src/core/classify';
import { Throttle, dedupeKey } from '../../src/core/throttle';
import { callExpressionAt } from '../../src/build/source';
import { ArmedKeys, armKeyOf } from '../../src/core/arming';
import { modeAction, reportableAfterDisconnect, reportableDoubleEnd } from '../../src/core/verdict';
import { CaptureBudget, refillShare } from '../../src/core/capture-budget';
import type { Frame, Vocabulary } from '../../src/internal-types';

function frame(file: string, line: number, fnLine: number, kind: Frame['kind'] = 'user', fn: string | null = null): Frame {
  return { file, line, column: 5, fn, fnLine, fnColumn: 1, kind };
}

const base: ClassifyInput = {
  kind: 'write-after-end',
  method: 'end',
  vocabulary: { receiver: 'res', response: true },
  endFrames: null,
  lateFrames: [],
  endFromPipe: false,
  lateFromPipe: false,
  pipeCount: 0,
  sameExecution: null,
  clientDisconnect: false,
  endCall: 'res.end(...)',
  lateCall: 'res.end(...)',
  between: null,
  headersFlushedBy: null,
  lateHeaderCall: false,
  endHandedOff: false,
  routedAfterEnd: false,
};

describe('classify', () => {
  it('same function, branch left without return → missing-return', () => {
    const c = classify({ ...base, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/a.js', 5, 1)], between: ['  if (x) { res.end()', '  }', '  res.end()'] });
    expect(c).toEqual({ cause: 'missing-return', hint: 'return after res.end(...)' });
  });
  it('same function, straight line → double-send for responses', () => {
    const c = classify({ ...base, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/a.js', 4, 1)], between: ['res.send(1)', 'res.send(2)'] });
    expect(c.cause).toBe('double-send');
  });
  it('a late callback on a plain stream (a socket, a logger) is worded for a stream', () => {
    const input = { ...base, vocabulary: { receiver: 'stream', response: false }, sameExecution: false, endCall: 'sock.end(...)', lateCall: 'sock.write(...)' };
    const c = classify({ ...input, endFrames: [frame('/a.js', 3, 2)], lateFrames: [frame('/a.js', 5, 4)] });
    expect(c).toEqual({
      cause: 'late-callback',
      hint: 'a callback wrote after sock.end(...): check sock.writableEnded before sock.write(...), or cancel the pending work when the stream ends',
    });
  });
  it('anonymous functions are told apart by where they start', () => {
    const c = classify({ ...base, sameExecution: false, endFrames: [frame('/a.js', 3, 2)], lateFrames: [frame('/a.js', 5, 4)] });
    expect(c.cause).toBe('late-callback');
  });
  it('different function in the same execution via a router → next-after-send', () => {
    const router = frame('/app/node_modules/router/lib/layer.js', 10, 1, 'dependency', 'handle');
    const c = classify({ ...base, sameExecution: true, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/a.js', 9, 8), router] });
    expect(c.cause).toBe('next-after-send');
  });
  it('a callback the ending function called itself, above the router\'s frames → missing-return, not next-after-send', () => {
    const router = frame('/app/node_modules/router/lib/layer.js', 10, 1, 'dependency', 'handle');
    // the handler (from line 2) sent at line 3, then called withWork(() => res.write()) at line 4
    const late = [frame('/a.js', 4, 4), frame('/a.js', 1, 1), frame('/a.js', 4, 2), router];
    const c = classify({ ...base, sameExecution: true, endFrames: [frame('/a.js', 3, 2)], lateFrames: late });
    expect(c.cause).toBe('missing-return');
  });
  it('a listener called by an EventEmitter after the end → late-subscriber', () => {
    const emit = frame('node:events', 1, 1, 'internal', 'emit');
    const c = classify({ ...base, sameExecution: false, endFrames: [frame('/a.js', 3, 2)], lateFrames: [frame('/a.js', 9, 8), emit] });
    expect(c.cause).toBe('late-subscriber');
  });
  it("the pipe's write after the app's own end() → pipe-and-end, worded for the pipe", () => {
    const c = classify({ ...base, method: 'write', lateFromPipe: true, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/a.js', 9, 1)], lateCall: 'src.pipe(...)' });
    expect(c).toEqual({
      cause: 'pipe-and-end',
      hint: 'res.end(...) ended res while a pipe was still writing into it: unpipe or destroy the source before ending res, or use stream.pipeline(...) and end in its callback',
    });
  });
  it('pipes and disconnects win over call positions', () => {
    expect(classify({ ...base, endFromPipe: true, pipeCount: 1 }).cause).toBe('pipe-ended');
    expect(classify({ ...base, endFromPipe: true, pipeCount: 2 }).cause).toBe('pipe-multiple-sources');
    expect(classify({ ...base, kind: 'double-end', endFromPipe: true }).cause).toBe('pipe-and-end');
    expect(classify({ ...base, kind: 'write-after-destroy', clientDisconnect: true }).cause).toBe('client-disconnect');
    expect(classify({ ...base, kind: 'write-after-destroy' }).cause).toBe('destroyed');
  });
  it('setHeader after the user’s own writeHead → headers-already-sent', () => {
    const c = classify({ ...base, kind: 'headers-after-sent', headersFlushedBy: 'writeHead', lateHeaderCall: true, endCall: 'res.writeHead(...)', lateCall: 'res.setHeader(...)' });
    expect(c.cause).toBe('headers-already-sent');
    expect(c.hint).toContain('res.writeHead(...) already sent the headers');
  });
  it('a family words its hints in its own terms; the rest fall back to the node-stream wording', () => {
    const vocabulary: Vocabulary = { receiver: 'controller', response: false, hints: { 'late-callback': (c) => `stop enqueueing on ${c.target}` } };
    const late = { ...base, vocabulary, endCall: null, lateCall: null, sameExecution: false, endFrames: [frame('/a.js', 3, 2)], lateFrames: [frame('/a.js', 9, 8)] };
    expect(classify(late)).toEqual({ cause: 'late-callback', hint: 'stop enqueueing on controller' });
    expect(classify({ ...late, kind: 'write-after-destroy' }).hint).toBe('controller was destroyed before the late controller.end(): check controller.destroyed before writing');
  });
});

describe('callExpressionAt', () => {
  it('names the receiver and method V8 points at', () => {
    expect(callExpressionAt("    res.status(400).json({ a: 1 })", 21)).toBe('res.json(...)');
    expect(callExpressionAt('  res.end()', 7)).toBe('res.end(...)');
    expect(callExpressionAt('  pipeline(a, b)', 3)).toBe('pipeline(...)');
  });
  it('an async frame points at the `await`: the awaited call is named', () => {
    expect(callExpressionAt('    await stream.writeSSE({ data })', 5)).toBe('stream.writeSSE(...)');
  });
  it('keeps the receiver\'s property path, without the chained calls', () => {
    expect(callExpressionAt("  ctx.res.end('x')", 11)).toBe('ctx.res.end(...)');
    expect(callExpressionAt("  reply.raw.setHeader('a', 1)", 13)).toBe('reply.raw.setHeader(...)');
    expect(callExpressionAt('reply.code(400).send({})', 17)).toBe('reply.send(...)');
  });
  it('renders a setter, where V8 points at the `=`', () => {
    expect(callExpressionAt('  ctx.body = rows', 12)).toBe('ctx.body = ...');
    expect(callExpressionAt('  ctx.response.body = 1', 21)).toBe('ctx.response.body = ...');
    expect(callExpressionAt('  if (a == b) x()', 9)).toBeNull();
  });
});

describe('classify: frameworks', () => {
  const koa: Vocabulary = { receiver: 'ctx', response: true, respondsAfterChain: true };
  const fastify: Vocabulary = { receiver: 'reply', response: true, sendsReturnValue: true };
  it('Koa: a call after the hand-off ran outside the middleware chain, even in the same function', () => {
    const input = { ...base, vocabulary: koa, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/a.js', 5, 1)], between: ['ctx.body = 1', 'await x', 'ctx.body = 2'] };
    expect(classify({ ...input, endHandedOff: true }).cause).toBe('late-callback');
    // the app's own ctx.res.end() (ctx.respond = false): the usual rules
    expect(classify({ ...input, endHandedOff: false }).cause).toBe('double-send');
  });
  it('Koa: a listener after the hand-off → late-subscriber', () => {
    const lateFrames = [frame('/a.js', 9, 8), frame('node:events', 1, 1, 'internal')];
    expect(classify({ ...base, vocabulary: koa, endHandedOff: true, endFrames: [frame('/a.js', 3, 1)], lateFrames }).cause).toBe('late-subscriber');
  });
  it('Fastify: a late send with no frame of the app (a returned value) → missing-return, in its own words', () => {
    const c = classify({
      ...base,
      vocabulary: { ...fastify, hints: { 'returned-after-send': (x) => `return reply after ${x.endCall}` } },
      endFrames: [frame('/a.js', 3, 1)],
      lateFrames: [frame('/n/node_modules/fastify/lib/wrap-thenable.js', 42, 1, 'dependency')],
      endCall: 'reply.send(...)',
      lateCall: null,
    });
    expect(c).toEqual({ cause: 'missing-return', hint: 'return reply after reply.send(...)' });
  });
  it('names the receiver by its property path', () => {
    const c = classify({ ...base, endFrames: [frame('/a.js', 3, 1)], lateFrames: [frame('/b.js', 5, 1)], endCall: 'reply.send(...)', lateCall: 'reply.raw.write(...)' });
    expect(c.hint).toBe('a callback responded after reply.send(...): check reply.raw.writableEnded before reply.raw.write(...), or cancel the pending work when the response ends');
  });
});

describe('config', () => {
  it('defaults, NODE_ENV=production → budget', () => {
    expect(readConfig({}).config).toMatchObject({ mode: 'observe', log: 'pretty', capture: 'always', captureBudget: 10, stackDepth: 4 });
    expect(readConfig({ NODE_ENV: 'production' }).config.capture).toBe('budget');
  });
  it('the capture budget takes decimals within bounds', () => {
    expect(readConfig({ ENDGUARD_CAPTURE_BUDGET: '0.5' }).config.captureBudget).toBe(0.5);
    const bad = readConfig({ ENDGUARD_CAPTURE_BUDGET: '0.01' });
    expect(bad.config.captureBudget).toBe(10);
    expect(bad.warnings).toEqual(['endguard: ignoring ENDGUARD_CAPTURE_BUDGET="0.01": allowed values are numbers 0.1..1000; using 10']);
  });
  it('one warning per bad variable, naming it and the allowed values; bounded and escaped', () => {
    const { config, warnings } = readConfig({ ENDGUARD_MODE: 'x'.repeat(100_000), ENDGUARD_LOG: 'ünïcode', ENDGUARD_STACK_DEPTH: '-1', ENDGUARD_TYPO: '1' });
    expect(config.mode).toBe('observe');
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toMatch(/^endguard: ignoring ENDGUARD_MODE="x{40}\\u2026": allowed values are observe, enforce, strict, off; using observe$/);
    expect(warnings[1]).toContain('\\u00fc');
    expect(warnings[3]).toContain('unknown variable ENDGUARD_TYPO');
  });
  it('programmatic options are validated like the environment, and named as the caller wrote them', () => {
    const { config, warnings } = readConfig({}, { mode: 'enforce', stackDepth: 0, foo: 1 } as object);
    expect(config.mode).toBe('enforce');
    expect(config.stackDepth).toBe(4);
    expect(warnings).toEqual([
      'endguard: ignoring option stackDepth: "0": allowed values are integers 1..100; using 4',
      expect.stringMatching(/^endguard: ignoring unknown option "foo": known are mode, log, /),
    ]);
  });
});

describe('throttle: one decision per violation', () => {
  it('counts per key, bounded (the least recently seen key is forgotten)', () => {
    const t = new Throttle(100, 0, 0, 100, 2);
    expect(t.decide('a', false, 0).count).toBe(1);
    expect(t.decide('a', false, 0).count).toBe(2);
    t.decide('b', false, 0);
    t.decide('c', false, 0);
    expect(t.decide('a', false, 0).count).toBe(1); // evicted
  });
  it('prints a key once per window, then with the number seen; caps lines per second', () => {
    const t = new Throttle(2, 1000, 0);
    const key = dedupeKey('/a:1:1', '/a:2:1', 'write-after-end');
    expect(t.decide(key, false, 0)).toEqual({ publish: true, count: 1, print: 1, printSpanMs: 0 });
    expect(t.decide(key, false, 10).print).toBe(0);
    expect(t.decide(key, false, 20).print).toBe(0);
    expect(t.decide(key, false, 1500)).toEqual({ publish: true, count: 4, print: 3, printSpanMs: 1500 });
    expect(t.decide('k1', false, 1500).print).toBe(1);
    expect(t.decide('k2', false, 1500)).toEqual({ publish: true, count: 1, print: 0, printSpanMs: 0 }); // bucket empty
  });
  it('a repeat on the same stream is not published; the report budget resets each second', () => {
    const t = new Throttle(10, 0, 0, 2);
    expect(t.decide('a', false, 0).count).toBe(1);
    expect(t.decide('a', true, 0)).toEqual({ publish: false, count: 1, print: 0, printSpanMs: 0 });
    expect([t.admit(5), t.admit(6), t.admit(7)]).toEqual([true, true, false]);
    expect(t.admit(1005)).toBe(true);
  });
  it('double ends draw on a budget of their own: a flood of them never starves real reports', () => {
    const t = new Throttle(10, 0, 0, 2);
    expect([t.admit(5, true), t.admit(6, true), t.admit(7, true)]).toEqual([true, true, false]);
    expect([t.admit(8), t.admit(9), t.admit(10)]).toEqual([true, true, false]);
    expect(t.admit(1005, true)).toBe(true);
  });
});

describe('capture budget (controllable clock)', () => {
  it('captures while the bucket holds tokens, samples beyond, refills over time', () => {
    const b = new CaptureBudget(20, 0); // 20 µs per second, captures of 5 µs
    for (let i = 0; i < 4; i++) {
      expect(b.allows(0)).toBe(true);
      b.charge(5);
    }
    expect(b.allows(0)).toBe(false);
    b.refuse(0);
    expect(b.lastSkipAt).toBe(0);
    expect(b.allows(250)).toBe(true); // +5 µs after 250 ms
    b.charge(5);
    expect(b.allows(250)).toBe(false);
    expect(b.allows(5000)).toBe(true); // refilled, but never past one second's worth
    for (let i = 0; i < 4; i++) b.charge(5);
    expect(b.allows(5000)).toBe(false);
  });
  it('the refill shrinks as the process nears a full core, never below a tenth', () => {
    expect([0, 0.5, 0.75, 1, 1.4].map(refillShare)).toEqual([1, 1, 0.5, 0.1, 0.1]);
    const b = new CaptureBudget(20, 0);
    for (let i = 0; i < 5; i++) b.charge(5); // −5 µs
    b.setLoad(0.75); // half the refill: the 5 µs take 500 ms instead of 250
    expect(b.allows(300)).toBe(false);
    expect(b.allows(510)).toBe(true);
  });
  it('says whether it was empty at the last end (nothing to mark for a saturated process)', () => {
    const b = new CaptureBudget(10, 0);
    expect(b.allows(0)).toBe(true);
    expect(b.exhausted()).toBe(false);
    b.charge(10);
    expect(b.exhausted()).toBe(true);
    expect(b.allows(500)).toBe(true); // refilled
    expect(b.exhausted()).toBe(false);
  });
  it('an outlier (a preemption, a GC) is charged as twice the typical capture at most', () => {
    const b = new CaptureBudget(11, 0);
    b.charge(10_000); // charged 2 × 5 + 1
    expect(b.allows(0)).toBe(false);
    expect(b.allows(1)).toBe(true); // a millisecond later: +0.011 µs
  });
  it('armed keys may go one second into debt; the share of captured ends is per one-second window', () => {
    const b = new CaptureBudget(10, 0);
    expect(b.allows(0)).toBe(true);
    b.charge(5);
    b.charge(5);
    b.charge(5);
    expect(b.allows(0)).toBe(false);
    expect(b.allowsDebt()).toBe(true);
    b.charge(5); // −10: one second of debt
    expect(b.allows(0)).toBe(false);
    expect(b.allowsDebt()).toBe(false);
    expect(b.share()).toBeCloseTo(2 / 3); // no full window yet: this one so far
    expect(b.allows(1000)).toBe(false); // a new window: 2 of the 3 ends of the last one were captured
    expect(b.share()).toBeCloseTo(2 / 3);
  });
});

describe('verdict', () => {
  const drops = new Set(['write-after-end'] as const);
  it('strict throws, enforce drops only the family’s kinds, observe passes', () => {
    expect(modeAction('strict', 'double-end', drops)).toBe(2);
    expect(modeAction('enforce', 'write-after-end', drops)).toBe(1);
    expect(modeAction('enforce', 'write-after-destroy', drops)).toBe(0);
    expect(modeAction('observe', 'write-after-end', drops)).toBe(0);
  });
  it('a double end is reportable only when code made both calls and one is the user’s', () => {
    const all = { endByCode: true, lateByCode: true, endUser: true, lateUser: true, lateDirect: true, sameLibrary: false };
    expect(reportableDoubleEnd(all, true, 'Writable')).toBe(true);
    expect(reportableDoubleEnd({ ...all, lateByCode: false }, true, 'Writable')).toBe(false);
    expect(reportableDoubleEnd({ ...all, endByCode: false }, true, 'Writable')).toBe(false);
    expect(reportableDoubleEnd({ ...all, endByCode: false }, false, 'ClientHttp2Stream')).toBe(false);
    expect(reportableDoubleEnd({ ...all, endUser: false, lateUser: false }, true, 'Socket')).toBe(false);
    // a library closing its own stream again after closing it for the app: its cleanup
    expect(reportableDoubleEnd({ ...all, lateUser: false, sameLibrary: true }, true, 'WritableStreamDefaultWriter')).toBe(false);
    expect(reportableDoubleEnd({ ...all, sameLibrary: true }, true, 'WritableStreamDefaultWriter')).toBe(true);
  });
  it('after a client disconnect, a close made by a dependency alone is its own cleanup', () => {
    const dependency = { endByCode: false, lateByCode: true, endUser: false, lateUser: false, lateDirect: true, sameLibrary: false };
    expect(reportableAfterDisconnect(dependency, 'close', true)).toBe(false);
    expect(reportableAfterDisconnect(dependency, 'enqueue', true)).toBe(true);
    expect(reportableAfterDisconnect({ ...dependency, lateUser: true }, 'close', true)).toBe(true);
    expect(reportableAfterDisconnect(dependency, 'close', false)).toBe(true);
  });
});

describe('armed keys', () => {
  it('method + path without the query for responses, the class otherwise; expiring and bounded', () => {
    expect(armKeyOf({ req: { method: 'GET', url: '/a?token=1' } })).toBe('GET /a');
    expect(armKeyOf({ req: { method: 'GET', originalUrl: '/api/a?x', url: '/a' } })).toBe('GET /api/a');
    class PassThrough {}
    expect(armKeyOf(new PassThrough())).toBe('PassThrough');
    const keys = new ArmedKeys(2, 100);
    keys.arm('a', 0);
    expect(keys.has('a', 50)).toBe(true);
    expect(keys.has('a', 150)).toBe(false);
    keys.arm('a', 0);
    keys.arm('b', 0);
    keys.arm('c', 0);
    expect(keys.has('a', 1)).toBe(false);
    expect(keys.size).toBe(2);
  });
});
