'use strict';
// Preload for the OpenTelemetry comparison variant: NodeSDK + instrumentation-http only,
// spans go to an exporter that discards them (the cost measured is instrumentation + SDK,
// not network export). Batch span processor, as NodeSDK sets up for a trace exporter.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

const discard = {
  export(spans, done) {
    done({ code: 0 });
  },
  shutdown() {
    return Promise.resolve();
  },
  forceFlush() {
    return Promise.resolve();
  },
};

const sdk = new NodeSDK({
  serviceName: 'endguard-bench',
  autoDetectResources: false,
  traceExporter: discard,
  metricReaders: [],
  instrumentations: [new HttpInstrumentation()],
});
sdk.start();
