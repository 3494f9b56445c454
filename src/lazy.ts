// What endguard loads only when it is needed (see lazy-load.ts): at the first violation, or when
// the app first uses a family of streams or loads a patched package.

// at a violation
export { buildReport } from './build/report';
export { formatPretty } from './report/pretty';
export { exceptionAttributes, exceptionType, metricAttributes, spanAttributes } from './report/otel-attributes';

// under the endguard CLI
export { startProcessFile, stopProcessFile } from './report/process-file';

// at the first use of http / http2
export { patchOutgoing } from './patch/outgoing';
export { patchHttp2 } from './patch/http2';

// at the first use of web streams
export { discoverInternals, forgetInternals, readableStateOf } from './patch/web/internals';
export { patchWithoutInternals } from './patch/web/degraded';
export { patchReadable } from './patch/web/readable';
export { patchTransform } from './patch/web/transform';
export { patchWritableStreams } from './patch/web/writable';
export * as webLinks from './patch/web/links';

// when the app loads the package (patch/packages.ts)
export { patchFastify } from './patch/fastify';
export { patchKoa } from './patch/koa';
export { patchReadableStream } from './patch/readable-stream';
export { patchMinipass } from './patch/minipass';
export { patchWebSocket } from './patch/ws';
export { patchOnHeaders } from './patch/compression';
export { patchRouterLayer } from './patch/router';
