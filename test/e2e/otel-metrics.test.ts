// The endguard.violations counter on the app's own MeterProvider (@opentelemetry/sdk-metrics,
// read in the child with a MetricReader), and nothing at all without one.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, NODE, markedSite, runFixture } from '../support/run';

// @opentelemetry/sdk-metrics 3.x needs Node >= 22.15, like the SDK (see otel.test.ts)
const [major = 0, minor = 0] = execFileSync(NODE, ['-p', 'process.versions.node']).toString().trim().split('.').map(Number);
const SDK_SUPPORTED = major > 22 || (major === 22 && minor >= 15);

const APP = path.join(FIXTURES, 'otel', 'metrics-app.js');
/** Every report on the log, repeats included, to compare with the counter. */
const EVERY_REPORT = { ENDGUARD_DEDUPE_WINDOW: '0' };

interface Point {
  scope: string;
  name: string;
  unit: string;
  attributes: Record<string, string>;
  value: number;
}

describe('OpenTelemetry metrics: endguard.violations', () => {
  for (const preload of ['require', 'import'] as const) {
    it.runIf(SDK_SUPPORTED)(`counts every violation by kind, cause, type and route template (--${preload})`, async () => {
      const run = await runFixture(APP, preload, { env: EVERY_REPORT });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toContain('endguard: internal error');
      const { client, points } = run.out[0] as { client: unknown[]; points: Point[] };
      expect(client).toEqual([
        { status: 200, body: 'first' },
        { status: 200, body: 'first' },
        { status: 200, body: 'first' },
      ]);
      // one report per violation, and the counter agrees with them
      expect(run.reports.map((r) => r.lateSite)).toEqual([
        markedSite(APP, 'late-route', 'res.send'),
        markedSite(APP, 'late-route', 'res.send'),
        markedSite(APP, 'late-plain', 'res.end'),
        markedSite(APP, 'late-stream', 'stream.write'),
      ]);
      const byCause = (r: Record<string, any>) => r.cause as string;
      const [route, plain, stream] = [run.reports[0]!, run.reports[2]!, run.reports[3]!];
      expect(points).toEqual([
        {
          scope: 'endguard',
          name: 'endguard.violations',
          unit: '{violation}',
          attributes: { 'endguard.kind': 'headers-after-sent', 'endguard.type': 'ServerResponse', 'endguard.cause': byCause(route), 'http.route': '/users/:id' },
          value: 2,
        },
        {
          scope: 'endguard',
          name: 'endguard.violations',
          unit: '{violation}',
          attributes: { 'endguard.kind': 'write-after-end', 'endguard.type': 'ServerResponse', 'endguard.cause': byCause(plain) },
          value: 1,
        },
        {
          scope: 'endguard',
          name: 'endguard.violations',
          unit: '{violation}',
          attributes: { 'endguard.kind': 'write-after-end', 'endguard.type': 'PassThrough', 'endguard.cause': byCause(stream) },
          value: 1,
        },
      ]);
      // never the raw path (ids) nor its query
      const text = JSON.stringify(points);
      for (const leak of ['42', '43', '/items/7', 'SECRET_QUERY', 'token']) expect(text).not.toContain(leak);
    });
  }

  it.runIf(SDK_SUPPORTED)('violations only counted past the report budget are counted too, without a cause', async () => {
    const run = await runFixture(APP, 'require', { args: ['--flood', '1000'] });
    expect(run.code, run.stderr).toBe(0);
    const streams = (run.out[0].points as Point[]).filter((p) => p.attributes['endguard.type'] === 'PassThrough');
    expect(streams.reduce((sum, p) => sum + p.value, 0)).toBe(1001);
    const counted = streams.filter((p) => p.attributes['endguard.cause'] === undefined);
    expect(counted.map((p) => p.attributes)).toEqual([{ 'endguard.kind': 'write-after-end', 'endguard.type': 'PassThrough' }]);
    expect(counted[0]!.value).toBeGreaterThan(0);
  });

  it('without a MeterProvider: no counter, no OpenTelemetry module loaded', async () => {
    const run = await runFixture(APP, 'require', { args: ['--no-provider'], env: EVERY_REPORT });
    expect(run.code, run.stderr).toBe(0);
    expect(run.reports).toHaveLength(4);
    expect(run.out[0]).toMatchObject({ points: [], loaded: [] });
  });
});
