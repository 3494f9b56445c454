import { ensureRecord } from './record';
import { failed, idle, wrapMethod, type Hook } from './wrap';

// Express's router (the `router` package of Express 5; lib/router/layer.js of Express 4): each
// handler runs from Layer#handleRequest (4.x: handle_request). A handler the router runs for a
// response whose headers are already out was reached through the next() of a middleware that
// had responded; when it answers after an await, no router frame is left on its stack to say
// so (classify.ts reads this mark instead: next-after-send, not late-callback).

function makeHandle(original: Function, hook: Hook): Function {
  return function handleRequest(this: unknown, req: unknown, res: unknown) {
    if (!idle(hook) && typeof res === 'object' && res !== null && (res as { headersSent?: unknown }).headersSent === true) {
      try {
        const record = ensureRecord(res);
        if (record !== undefined) record.routedAfterEnd = true;
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

/** Patches the Layer class a router file exports (packages.ts lists the files). */
export function patchRouterLayer(exports: unknown): void {
  const proto = (exports as { prototype?: object } | null)?.prototype;
  wrapMethod(proto, 'handleRequest', 'router Layer', makeHandle);
  wrapMethod(proto, 'handle_request', 'express Layer', makeHandle);
}
