'use strict';
// The variants every benchmark compares: node flags + environment for the child process.
const path = require('node:path');
const { REGISTER_CJS } = require('./common');

const OTEL_SETUP = path.join(__dirname, '..', 'otel-setup.js');

const VARIANTS = {
  bare: { args: [], env: {} },
  armed: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'armed' } },
  always: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'always' } },
  // enforce with the production capture policy: compare it with `armed` (observe)
  enforce: { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'armed', ENDGUARD_MODE: 'enforce' } },
  'enforce-always': { args: ['--require', REGISTER_CJS], env: { ENDGUARD_CAPTURE: 'always', ENDGUARD_MODE: 'enforce' } },
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
