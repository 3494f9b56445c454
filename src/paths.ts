import * as path from 'node:path';

// Where endguard's own code lives, so that its frames are never taken for the user's. This file
// stays at the top level of src/: compiled alone (dist/paths.js) and inside the preload bundle
// (dist/bundle.js) its __dirname is dist/ either way.

/** dist/ itself: the package root is not excluded, because a project's own test fixtures or demo may live under it. */
export const AGENT_DIR = __dirname + path.sep;
/** The two register files at the package root. */
export const AGENT_FILES: ReadonlySet<string> = new Set([path.join(__dirname, '..', 'register.cjs'), path.join(__dirname, '..', 'register.mjs')]);
