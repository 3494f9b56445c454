import { describe, expect, it } from 'vitest';
import { REGISTER_CJS, markedSite, runFixture, runNode } from '../support/run';

const TYPES = ['Writable', 'PassThrough', 'Transform', 'Duplex', 'WriteStream', 'Gzip', 'Socket'];
const OPS = [
  { op: 'write', kind: 'write-after-end', method: 'write', end: ['end', 'stream.end'], late: ['late', 'stream.write'], cause: 'missing-return' },
  { op: 'end-chunk', kind: 'write-after-end', method: 'end', end: ['end2', 'stream.end'], late: ['late-end-chunk', "stream.end('late')"], cause: 'missing-return' },
  { op: 'destroy', kind: 'write-after-destroy', method: 'write', end: ['destroy', 'stream.destroy'], late: ['late-destroy', 'stream.write'], cause: 'destroyed' },
] as const;

describe('every Node stream type: Writable, Duplex copies, net.Socket, fs, zlib', () => {
  for (const type of TYPES) {
    for (const c of OPS) {
      it(`${type} ${c.op}`, async () => {
        const run = await runFixture('stream-types.js', 'require', { args: [type, c.op] });
        expect(run.reports, run.stderr).toHaveLength(1);
        const late = c.late[1].startsWith('stream.end(') ? markedSite('stream-types.js', c.late[0], 'stream.end') : markedSite('stream-types.js', c.late[0], c.late[1]);
        expect(run.reports[0]).toMatchObject({
          kind: c.kind,
          type,
          method: c.method,
          cause: c.cause,
          endSite: markedSite('stream-types.js', c.end[0], c.end[1]),
          lateSite: late,
          endMethod: c.op === 'destroy' ? 'destroy' : 'end',
        });
        expect(run.out).toContainEqual({ done: type });
        const bare = await runFixture('stream-types.js', 'none', { args: [type, c.op] });
        expect(run.out).toEqual(bare.out);
      });
    }
  }
});

describe('code with no file: node -e', () => {
  it('the eval script is the user\'s code: both sites are [eval]:line:column, worded for a stream', async () => {
    const code = "const { PassThrough } = require('node:stream'); const p = new PassThrough(); p.on('error', () => {}); p.end(); p.write('x');";
    const run = await runNode(['--require', REGISTER_CJS, '-e', code]);
    expect(run.code).toBe(0);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-end',
      type: 'PassThrough',
      endSite: `[eval]:1:${code.indexOf('p.end()') + 3}`,
      lateSite: `[eval]:1:${code.indexOf("p.write('x')") + 3}`,
      cause: 'missing-return',
    });
    expect(run.reports[0]!.hint).not.toMatch(/response/);
  });

  it('a worker thread\'s eval code too: [worker eval]:line:column, and strict throws where its try/catch is', async () => {
    const worker = "const { PassThrough } = require('node:stream');\nconst p = new PassThrough();\np.end();\ntry { p.write('x'); } catch (e) { require('node:worker_threads').parentPort.postMessage(e.code); }";
    const code = `const { Worker } = require('node:worker_threads'); new Worker(${JSON.stringify(worker)}, { eval: true }).on('message', (m) => console.log(JSON.stringify({ caught: m })));`;
    const [observe, strict] = await Promise.all([
      runNode(['--require', REGISTER_CJS, '-e', code], { env: { NODE_OPTIONS: `--require ${REGISTER_CJS}` } }),
      runNode(['--require', REGISTER_CJS, '-e', code], { env: { NODE_OPTIONS: `--require ${REGISTER_CJS}`, ENDGUARD_MODE: 'strict' } }),
    ]);
    expect(observe.reports).toHaveLength(1);
    expect(observe.reports[0]).toMatchObject({ kind: 'write-after-end', endSite: '[worker eval]:3:3', lateSite: '[worker eval]:4:9', cause: 'missing-return' });
    expect(strict.code).toBe(0);
    expect(strict.out).toEqual([{ caught: 'ERR_ENDGUARD_WRITE_AFTER_END' }]);
  });
});
