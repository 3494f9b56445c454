'use strict';
// Micro-benchmarks, each variant in its own child process, variants alternating in rounds.
const path = require('node:path');
const C = require('./lib/common');
const { variant } = require('./lib/variants');

const MICRO = path.join(__dirname, 'micro');
const CPU = 0; // children on CPU 0, as the servers: the runner itself only waits

function child(name, variantName, args, extraEnv = {}, nodeFlags = []) {
  const v = variant(variantName);
  return C.runJsonChild([...nodeFlags, ...v.args, path.join(MICRO, name), ...args.map(String)], {
    env: { ...v.env, ...extraEnv },
    cpu: CPU,
  });
}

async function alternate(rounds, variants, runOne, log, label) {
  const out = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    const parts = [];
    for (const v of order) {
      const r = await runOne(v);
      out[v].push(r);
      parts.push(`${v} ${C.fmt(r.value, r.digits ?? 0)}`);
    }
    log(`  ${label} round ${round + 1}/${rounds}: ${parts.join(', ')}`);
  }
  return out;
}

/** One row per variant: median ops/s, ratio to bare, per-round ratio range, spread. */
function cycleRows(bench, res, variants) {
  const bare = C.median(res.bare.map((r) => r.value));
  return variants.map((v) => {
    const values = res[v].map((r) => r.value);
    const paired = values.map((x, i) => x / res.bare[i].value);
    return {
      bench,
      variant: v,
      value: C.median(values),
      ratio: C.median(values) / bare,
      pairedMin: C.min(paired),
      pairedMax: C.max(paired),
      min: C.min(values),
      max: C.max(values),
      spread: C.spreadPct(values),
      runs: values.length,
    };
  });
}

/** Stream cycle (10 writes + end), ops/s, for Writable and PassThrough. */
async function runCycle(opts, log) {
  const rows = [];
  for (const kind of ['writable', 'passthrough']) {
    const variants = opts.cycleVariants;
    const res = await alternate(opts.microRounds, variants, async (v) => {
      const r = await child('cycle.js', v, [kind, opts.microMs]);
      return { value: r.opsPerSec };
    }, log, `cycle ${kind}`);
    rows.push(...cycleRows(`${kind}: new + 10×write + end`, res, variants));
  }
  return rows;
}

/**
 * Web stream cycle (new ReadableStream + 10×enqueue + close) next to the Writable cycle, same
 * variants and rounds: the web stream must cost at most the Writable's ratio under each policy.
 */
async function runWebCycle(opts, log) {
  const variants = opts.cycleVariants;
  const cases = [
    { bench: 'web ReadableStream: new + 10×enqueue + close', file: 'webstream.js', args: [opts.microMs] },
    { bench: 'writable: new + 10×write + end', file: 'cycle.js', args: ['writable', opts.microMs] },
  ];
  const rows = [];
  for (const c of cases) {
    const res = await alternate(opts.microRounds, variants, async (v) => {
      const r = await child(c.file, v, c.args);
      return { value: r.opsPerSec };
    }, log, c.file);
    rows.push(...cycleRows(c.bench, res, variants));
  }
  return rows;
}

/** Violation report cost: late write time with the agent minus Node's own late write time. */
async function runReport(opts, log) {
  const cases = {
    bare: { v: 'bare', args: [] },
    'always (both stacks)': { v: 'always-unbundled', args: [] },
    'armed, first report (no end stack)': { v: 'armed-unbundled', args: ['first'] },
    'armed, armed key (both stacks)': { v: 'armed-unbundled', args: [] },
    'always, Node\'s Error.prepareStackTrace unset': { v: 'always-unbundled', args: ['all', 'noprepare'] },
  };
  const names = Object.keys(cases);
  const res = await alternate(opts.microRounds, names, async (name) => {
    const c = cases[name];
    const r = await child('report.js', c.v, [opts.reportIterations, ...c.args], { ENDGUARD_LOG: 'off' });
    if (c.v !== 'bare' && r.reports !== r.iterations) throw new Error(`report bench: ${r.reports}/${r.iterations} reports published`);
    return { value: r.medianUs, digits: 1, p90: r.p90Us, bytes: r.avgLineBytes, hasEndStack: r.hasEndStack };
  }, log, 'report');
  const bare = C.median(res.bare.map((r) => r.value));
  return names.map((name) => {
    const values = res[name].map((r) => r.value);
    return {
      case: name,
      lateCallUs: C.median(values),
      reportUs: name === 'bare' ? 0 : C.median(values) - bare,
      p90Us: C.median(res[name].map((r) => r.p90)),
      min: C.min(values),
      max: C.max(values),
      lineBytes: res[name][0].bytes,
      hasEndStack: res[name][0].hasEndStack,
      runs: values.length,
    };
  });
}

/** Retained heap per live ended stream, receivers kept by captured frames, leftovers after. */
async function runMemory(opts, log) {
  const rows = [];
  for (const kind of ['writable', 'response']) {
    const variants = ['bare', 'armed', 'always'];
    const res = await alternate(opts.memoryRounds, variants, async (v) => {
      const r = await child('memory.js', v, [kind, opts.memoryStreams], {}, ['--expose-gc']);
      return { value: r.liveBytesPerStream, ...r };
    }, log, `memory ${kind}`);
    const bare = C.median(res.bare.map((r) => r.liveBytesPerStream));
    const bareGone = C.median(res.bare.map((r) => r.goneBytesPerStream));
    for (const v of variants) {
      const live = res[v].map((r) => r.liveBytesPerStream);
      rows.push({
        kind,
        variant: v,
        liveBytes: C.median(live),
        agentBytes: C.median(live) - bare,
        min: C.min(live) - bare,
        max: C.max(live) - bare,
        holdersAlivePct: C.median(res[v].map((r) => r.holdersAlivePct)),
        goneBytes: C.median(res[v].map((r) => r.goneBytesPerStream)) - bareGone,
        streamsAlive: C.max(res[v].map((r) => r.streamsAlive)),
        holdersAliveAfter: C.max(res[v].map((r) => r.holdersAliveAfter)),
        runs: live.length,
      });
    }
  }
  return rows;
}

function formatCycle(rows) {
  return C.table(
    ['micro', 'variant', 'median ops/s', 'ratio', 'per-round ratio min–max', 'min–max ops/s', 'spread ±%', 'runs'],
    rows.map((r) => [
      r.bench,
      r.variant,
      C.fmt(r.value),
      r.ratio.toFixed(3),
      `${r.pairedMin.toFixed(3)}–${r.pairedMax.toFixed(3)}`,
      `${C.fmt(r.min)}–${C.fmt(r.max)}`,
      r.spread.toFixed(1),
      r.runs,
    ]),
  );
}

function formatReport(rows) {
  return C.table(
    ['late write (depth 20, Writable)', 'median µs per late call', 'report cost µs (− bare)', 'p90 µs', 'min–max median µs', 'JSON line bytes', 'end stack', 'runs'],
    rows.map((r) => [
      r.case,
      r.lateCallUs.toFixed(1),
      r.case === 'bare' ? '–' : r.reportUs.toFixed(1),
      r.p90Us.toFixed(1),
      `${r.min.toFixed(1)}–${r.max.toFixed(1)}`,
      r.lineBytes || '–',
      r.hasEndStack === null ? '–' : r.hasEndStack ? 'yes' : 'no',
      r.runs,
    ]),
  );
}

function formatMemory(rows) {
  return C.table(
    ['ended stream kept alive', 'variant', 'heap B/stream', 'agent B/stream (− bare)', 'agent min–max', 'end-site holders kept alive', 'B/stream after streams gone (− bare)', 'streams / holders left', 'runs'],
    rows.map((r) => [
      r.kind === 'response' ? 'http.ServerResponse' : 'Writable',
      r.variant,
      C.fmt(r.liveBytes),
      r.variant === 'bare' ? '–' : C.fmt(r.agentBytes),
      r.variant === 'bare' ? '–' : `${C.fmt(r.min)}–${C.fmt(r.max)}`,
      `${r.holdersAlivePct.toFixed(0)}%`,
      r.variant === 'bare' ? '–' : C.fmt(r.goneBytes, 1),
      `${r.streamsAlive} / ${r.holdersAliveAfter}`,
      r.runs,
    ]),
  );
}

module.exports = { runCycle, runWebCycle, runReport, runMemory, formatCycle, formatReport, formatMemory };
