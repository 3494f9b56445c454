import { lazy } from '../lazy-load';
import type { PackagePatch } from './modules';

// The packages patched when the app loads them: here, what to watch for (read at startup); the
// code that patches each is in its own file of patch/, loaded only then (lazy.ts). An npm alias
// of one of them that the app declares (`"ws7": "npm:ws@7"`) is patched too (modules.ts).
export const PACKAGE_PATCHES: readonly PackagePatch[] = [
  {
    name: 'fastify',
    files: ['lib/symbols.js', 'lib/reply.js', 'lib/wrap-thenable.js', 'lib/wrapThenable.js'],
    patch: (file, exports, basedir) => lazy().patchFastify(file, exports, basedir),
  },
  {
    name: 'koa',
    files: ['', 'lib/response.js', 'lib/context.js'],
    patch: (file, exports, basedir) => lazy().patchKoa(file, exports, basedir),
  },
  {
    name: 'readable-stream',
    files: [
      // 4.x
      'lib/internal/streams/writable.js',
      'lib/internal/streams/duplex.js',
      'lib/internal/streams/readable.js',
      'lib/internal/streams/pipeline.js', // also 3.x
      'lib/stream/promises.js',
      // 2.x and 3.x
      'lib/_stream_writable.js',
      'lib/_stream_duplex.js',
      'lib/_stream_readable.js',
    ],
    patch: (file, exports, basedir) => lazy().patchReadableStream(file, exports, basedir),
  },
  {
    name: 'minipass',
    files: [''],
    esm: [{ file: 'dist/esm/index.js', bindings: ['Minipass'] }],
    patch: (file, exports, basedir) => lazy().patchMinipass(file, exports, basedir),
  },
  { name: 'ws', files: ['lib/websocket.js', 'lib/stream.js'], patch: (file, exports) => lazy().patchWebSocket(file, exports) },
  // Express 5's router and Express 4's own: a handler run after the response was sent (router.ts)
  { name: 'router', files: ['lib/layer.js'], patch: (_file, exports) => lazy().patchRouterLayer(exports) },
  { name: 'express', files: ['lib/router/layer.js'], patch: (_file, exports) => lazy().patchRouterLayer(exports) },
  // compression, through the on-headers call of its middleware (compression.ts)
  { name: 'on-headers', files: [''], patch: (file, exports) => lazy().patchOnHeaders(file, exports) },
];
