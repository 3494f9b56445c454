/** The constructor name of a stream ('Object' when it has none or reading it throws). */
export function typeNameOf(stream: object): string {
  try {
    const ctor = (stream as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Object';
  } catch {
    return 'Object';
  }
}
