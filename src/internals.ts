// What dist/lazy-bundle.js takes from the preload bundle: the modules of the preload that the code
// loaded on first need (lazy.ts) imports. scripts/bundle.mjs builds lazy-bundle.js with these modules
// resolved to dist/bundle.js, so both share one instance of each (a record written by the
// preload's wrappers is the one the lazy code reads) and call each other directly.
export * from './patch/wrap';
export * from './internal-types';
export * from './patch/record';
export * from './patch/late';
export * from './patch/implementations';
export * from './patch/pipe';
export * from './flags';
export * from './core/errors';
export * from './core/detect';
export * from './semconv';
export * from './core/stream-type';
export * from './stderr';
export * from './channels';
export * from './patch/capture';
export * from './patch/abort';
export * from './core/capture-stack';
