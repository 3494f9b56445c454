// `node --import endguard/otel app.js` (or `--require`): starts the OpenTelemetry Node SDK,
// configured only by the standard OTEL_* variables, with HTTP instrumentation, then the agent.
// Spans are flushed before the process ends: when its event loop drains, and on SIGTERM /
// SIGINT, after which the signal is raised again so the process dies as it would have.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { startAgent, tracerProviderRegistered } from './bundle';

/** The part of NodeSDK this entry uses. */
interface NodeSdk {
  start(): void;
  shutdown(): Promise<void>;
}

const SDK_PACKAGE = '@opentelemetry/sdk-node';
const HTTP_PACKAGE = '@opentelemetry/instrumentation-http';
/** Longest wait for the exporters at a signal before the process dies anyway. */
const SIGNAL_FLUSH_MS = 5000;

function warn(line: string): void {
  try {
    process.stderr.write(`endguard/otel: ${line}\n`);
  } catch {
    // stderr gone
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves a package from endguard's location first, then from the app's working directory. */
function load(name: string): unknown {
  return require(resolve(name));
}

function missing(error: unknown): boolean {
  return (error as { code?: string }).code === 'MODULE_NOT_FOUND';
}

/** `>=22.15.0`-style engine ranges only; anything fancier is not checked. */
function satisfiesMinimum(range: string | undefined, nodeVersion: string): boolean {
  const min = range === undefined ? null : /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (min === null) return true;
  const have = nodeVersion.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = Number(min[i + 1]);
    if (a !== b) return a > b;
  }
  return true;
}

function resolve(name: string): string {
  try {
    return require.resolve(name);
  } catch (error) {
    if (!missing(error)) throw error;
  }
  return require.resolve(name, { paths: [process.cwd()] });
}

/** The SDK's `engines.node` (its package.json is not in its exports: walk up from its entry). */
function sdkEngine(): string | undefined {
  try {
    let dir = path.dirname(resolve(SDK_PACKAGE));
    for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
      const file = path.join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; engines?: { node?: string } };
      if (manifest.name === SDK_PACKAGE) return manifest.engines?.node;
    }
  } catch {
    // not installed, or unreadable: the load below says so
  }
  return undefined;
}

let sdk: NodeSdk | null = null;
let shuttingDown: Promise<void> | null = null;

/** Flushes and shuts the SDK down (once). Call it before an explicit process.exit(). */
export function shutdown(): Promise<void> {
  if (sdk === null) return Promise.resolve();
  if (shuttingDown === null) {
    shuttingDown = sdk.shutdown().catch((error: unknown) => warn(`shutdown failed (${errorText(error)})`));
  }
  return shuttingDown;
}

function onBeforeExit(): void {
  // The loop drained: export what is buffered. The exporters' requests keep the process up
  // until they finish; beforeExit then fires again and finds the shutdown done.
  void shutdown();
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (the app's graceful shutdown): flush, and let them decide
  // when the process ends. Alone, we are what stopped Node's default: shut down, then re-raise.
  const others = process.listenerCount(signal) > 1;
  if (others) {
    void shutdown();
    return;
  }
  process.removeListener(signal, onSignal);
  const timer = setTimeout(() => process.kill(process.pid, signal), SIGNAL_FLUSH_MS);
  void shutdown().finally(() => {
    clearTimeout(timer);
    process.kill(process.pid, signal);
  });
}

function startSdk(): void {
  if (tracerProviderRegistered()) {
    warn('an OpenTelemetry SDK is already registered in this process; not starting another (endguard/register is enough)');
    return;
  }
  const engine = sdkEngine();
  if (!satisfiesMinimum(engine, process.versions.node)) {
    warn(`${SDK_PACKAGE} needs Node ${engine} (this is ${process.versions.node}); endguard runs without OpenTelemetry`);
    return;
  }
  let sdkModule: { NodeSDK: new (options: object) => NodeSdk };
  let httpModule: { HttpInstrumentation: new () => object };
  try {
    sdkModule = load(SDK_PACKAGE) as typeof sdkModule;
    httpModule = load(HTTP_PACKAGE) as typeof httpModule;
  } catch (error) {
    if (!missing(error)) throw error;
    warn(
      `endguard/otel needs ${SDK_PACKAGE} and ${HTTP_PACKAGE} (${errorText(error).split('\n', 1)[0]}). ` +
        `Install them: npm install ${SDK_PACKAGE} ${HTTP_PACKAGE}. endguard runs without OpenTelemetry`,
    );
    return;
  }
  const env = process.env;
  const options: Record<string, unknown> = { instrumentations: [new httpModule.HttpInstrumentation()] };
  // This entry is for traces: metrics and logs start only when their variable asks for them
  // (NodeSDK would otherwise default both to OTLP).
  if (env.OTEL_METRICS_EXPORTER === undefined) options.metricReaders = [];
  if (env.OTEL_LOGS_EXPORTER === undefined) options.logRecordProcessors = [];
  const started = new sdkModule.NodeSDK(options);
  started.start();
  sdk = started;
  process.on('beforeExit', onBeforeExit);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

try {
  startSdk();
} catch (error) {
  warn(`OpenTelemetry failed to start (${errorText(error)}); endguard runs without it`);
}

try {
  startAgent();
} catch (error) {
  warn(`failed to start (${errorText(error)}); the app runs without it`);
}
