#!/usr/bin/env node
// `npx endguard`: the command line is dist/cli.js (src/cli.ts).
require('../dist/cli.js').main();
