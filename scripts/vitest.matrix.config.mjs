// vitest config for `npm run test:matrix`: the project's config with one JSON reporter writing
// to MATRIX_RESULTS (the project's own reporters, e.g. a fixed outputFile, are replaced).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import base from '../vitest.config.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default {
  ...base,
  root,
  test: {
    ...base.test,
    reporters: [['json', { outputFile: process.env.MATRIX_RESULTS }]],
  },
};
