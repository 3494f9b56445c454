'use strict';
// The variants every benchmark compares: node flags + environment for the child process.
const path = require('node:path');
const { REGISTER_CJS } = require('./common');

const OTEL_SETUP = path.join(__dirname, '..', 'otel-setup.js');
const ABLATE = path.join(__dirname, '..', 'ablate.js');
// helpers that swap or call the agent's internals need its per-file modules (see unbundled-register.js)
const UNBUNDLED = path.join(__dirname, '..', 'unbundled-register.js');
const UNWRAP = path.join(__dirname, '..', 'unwrap.js');
const unwrap = (methods) => ({
  args: ['--require', UNBUNDLED, '--require', UNWRAP],
  env: { ENDGUARD_CAPTURE: 'armed', BENCH_UNWRAP: methods },
});

const VARIANTS = {
  bare: { args: [], env: {} },
  armed: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'armed' } },
  always: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'always' } },
  // the production default: the policy NODE_ENV=production selects (budget), set explicitly so
  // that the app itself does not run in production mode while bare does not (Express differs)
  production: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'budget' } },
  // ablation: how much of always's in-situ cost is the depth of the stack walk
  'always-depth1': {
    args: ['--require', REGISTER_CJS],
    env: { ENDGUARD_CAPTURE: 'always', ENDGUARD_STACK_DEPTH: '1' },
  },
  budget: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'budget' } },
  // the report micro-benchmark lifts the report budget through the agent's modules
  'always-unbundled': { args: ['--require', UNBUNDLED], env: { ENDGUARD_CAPTURE: 'always' } },
  'armed-unbundled': { args: ['--require', UNBUNDLED], env: { ENDGUARD_CAPTURE: 'armed' } },
  // enforce with the production capture policy: compare it with `armed` (observe)
  enforce: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'armed', ENDGUARD_MODE: 'enforce' } },
  'enforce-always': { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'always', ENDGUARD_MODE: 'enforce' } },
  // ablations (not in the default set): what one piece of the agent costs, see ablate.js
  'always-nocapture': { args: ['--require', UNBUNDLED, '--require', ABLATE], env: { ENDGUARD_CAPTURE: 'always', BENCH_ABLATE: 'nocapture' } },
  'armed-noasyncid': { args: ['--require', UNBUNDLED, '--require', ABLATE], env: { ENDGUARD_CAPTURE: 'armed', BENCH_ABLATE: 'noasyncid' } },
  // armed with some wrappers removed again (bench/unwrap.js): which wrapper costs what
  'armed-unwrap-none': unwrap(''),
  'armed-unwrap-headers': unwrap('OutgoingMessage.setHeader,OutgoingMessage.appendHeader,ServerResponse.writeHead'),
  'armed-unwrap-outgoing': unwrap('OutgoingMessage.setHeader,OutgoingMessage.appendHeader,ServerResponse.writeHead,OutgoingMessage.write,OutgoingMessage.end,OutgoingMessage.destroy'),
  'armed-unwrap-streams': unwrap('Writable.write,Writable.end,Writable.destroy,Duplex.write,Duplex.end,Duplex.destroy,Readable.pipe'),
  // no agent: the same methods wrapped by plain pass-throughs (bench/nullwrap.js)
  nullwrap: { args: ['--require', path.join(__dirname, '..', 'nullwrap.js')], env: {} },
  otel: {
    args: ['--require', OTEL_SETUP],
    env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_SDK_DISABLED: 'false' },
  },
};

function variant(name) {
  const v = VARIANTS[name];
  if (v === undefined) throw new Error(`unknown variant ${name}: known are ${Object.keys(VARIANTS).join(', ')}`);
  return v;
}

module.exports = { VARIANTS, variant };
