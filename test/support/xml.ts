// A small, strict XML parser for the tests (the JUnit output): elements, attributes, text,
// the five predefined entities and numeric references, comments and the XML declaration.
// Anything malformed throws: unclosed or mismatched tags, duplicate attributes, a bare `&` or
// `<`, characters XML 1.0 forbids, text outside the root element.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
const FORBIDDEN = /[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  if (raw.includes('<')) throw new Error(`bare < at ${at}`);
  return raw.replace(/&([^;\s&]*);?/g, (match, body: string) => {
    if (!match.endsWith(';')) throw new Error(`bare & at ${at}`);
    if (body in ENTITIES) return ENTITIES[body]!;
    const n = /^#x([0-9a-f]+)$/i.exec(body) ? parseInt(body.slice(2), 16) : /^#[0-9]+$/.test(body) ? Number(body.slice(1)) : NaN;
    if (Number.isNaN(n)) throw new Error(`unknown entity &${body}; at ${at}`);
    return String.fromCodePoint(n);
  });
}

export function parseXml(source: string): XmlElement {
  if (FORBIDDEN.test(source)) throw new Error('character not allowed in XML 1.0');
  let i = 0;
  const skip = (re: RegExp) => {
    const m = re.exec(source.slice(i));
    if (m !== null && m.index === 0) i += m[0].length;
  };
  skip(/^<\?xml[^?]*\?>/);
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < source.length) {
    if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i);
      if (end === -1) throw new Error('unclosed comment');
      i = end + 3;
      continue;
    }
    if (source[i] !== '<') {
      const next = source.indexOf('<', i);
      const raw = source.slice(i, next === -1 ? source.length : next);
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (raw.trim() !== '') throw new Error(`text outside the root at ${i}`);
      } else top.text += decode(raw, i);
      i = next === -1 ? source.length : next;
      continue;
    }
    if (source[i + 1] === '/') {
      const name = NAME.exec(source.slice(i + 2))?.[0];
      const top = stack.pop();
      if (name === undefined || top === undefined || top.name !== name) throw new Error(`mismatched </${name}> at ${i}`);
      i += 2 + name.length;
      skip(/^\s*/);
      if (source[i] !== '>') throw new Error(`bad end tag at ${i}`);
      i++;
      continue;
    }
    const name = NAME.exec(source.slice(i + 1))?.[0];
    if (name === undefined) throw new Error(`bad tag at ${i}`);
    if (root !== null && stack.length === 0) throw new Error(`second root element at ${i}`);
    i += 1 + name.length;
    const element: XmlElement = { name, attributes: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skip(/^\s+/);
      if (source.startsWith('/>', i) || source[i] === '>') break;
      if (i === before) throw new Error(`expected whitespace before an attribute at ${i}`);
      const attr = /^([A-Za-z_:][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(source.slice(i));
      if (attr === null) throw new Error(`bad attribute at ${i}`);
      if (attr[1]! in element.attributes) throw new Error(`duplicate attribute ${attr[1]} at ${i}`);
      element.attributes[attr[1]!] = decode(attr[3] ?? attr[4] ?? '', i);
      i += attr[0].length;
    }
    const top = stack[stack.length - 1];
    if (top !== undefined) top.children.push(element);
    else root = element;
    if (source.startsWith('/>', i)) i += 2;
    else {
      i++;
      stack.push(element);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root === null) throw new Error('no root element');
  return root;
}
