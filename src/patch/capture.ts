import type { Config } from '../types';
import { ArmedKeys, armKeyOf } from '../core/arming';

// The capture policy: whether an end, destroy, header flush or pipe captures its call site.
// always: every one; armed: only those of a key (route or stream type) that produced a
// violation while nothing was captured.
let always = false;
const armed = new ArmedKeys();
/** Set when the first key is armed: until then no end pays for a key lookup. */
let anyArmed = false;

export function configureCapture(config: Config): void {
  always = config.capture === 'always';
  armed.clear();
  anyArmed = false;
}

/** Should this end/destroy/pipe capture its call site now? */
export function shouldCapture(stream: object): boolean {
  if (always) return true;
  return anyArmed && armed.has(armKeyOf(stream));
}

/**
 * Is anything being captured at all? When not, Node's nested calls need no marking and the
 * header flush keeps nothing.
 */
export function capturing(): boolean {
  return always || anyArmed;
}

/** A violation had no end site under the armed policy: capture this stream's key from now on. */
export function armFor(stream: object): void {
  armed.arm(armKeyOf(stream));
  anyArmed = true;
}
