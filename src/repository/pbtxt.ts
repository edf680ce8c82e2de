// Parser for protobuf text format, as written in Triton config.pbtxt files.
// It is schema-less: every field maps to the list of values written for it, and the
// caller (config.ts) decides which fields are singular, repeated, enums or messages.

export type TextValue = string | number | boolean | TextMessage;

/** Field name -> every value written for it, in order. */
export interface TextMessage {
  [field: string]: TextValue[];
}

/** Where a field was written: the line of its first name and of each value. */
export interface FieldLines {
  name: number;
  values: number[];
}

/** Hidden on each TextMessage (not enumerable, so parsed messages still compare equal to plain objects). */
const LINES: unique symbol = Symbol('lines');
type Located = { [LINES]?: Record<string, FieldLines> };

/** The lines a field was written on, so schema errors can name them. */
export function linesOf(msg: TextMessage, field: string): FieldLines {
  return (msg as unknown as Located)[LINES]?.[field] ?? { name: 0, values: [] };
}

export class TextProtoError extends Error {
  readonly fileName: string;
  readonly line: number;
  readonly column: number;
  readonly detail: string;

  constructor(fileName: string, line: number, column: number, detail: string) {
    super(`${fileName}:${line}:${column}: ${detail}`);
    this.name = 'TextProtoError';
    this.fileName = fileName;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
}

type Token =
  | { kind: 'ident'; text: string; line: number; col: number }
  | { kind: 'punct'; text: string; line: number; col: number }
  | { kind: 'string'; text: string; value: string; line: number; col: number }
  | { kind: 'int'; text: string; value: bigint; line: number; col: number }
  | { kind: 'float'; text: string; value: number; line: number; col: number }
  | { kind: 'eof'; text: string; line: number; col: number };

// Protobuf's own parser stops at 100 levels; a limit also keeps hostile input off the stack.
const MAX_DEPTH = 100;
const PUNCT = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63,
};
const utf8 = new TextEncoder();
// ignoreBOM keeps a deliberate "\xef\xbb\xbf" inside a string instead of dropping it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Lexer {
  private pos = 0;
  private line = 1;
  private col = 1;

  constructor(private readonly src: string, private readonly fileName: string) {
    if (src.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  private fail(line: number, col: number, msg: string): never {
    throw new TextProtoError(this.fileName, line, col, msg);
  }

  private advance(n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.src[this.pos] === '\n') {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
      this.pos++;
    }
  }

  tokenize(): Token[] {
    const out: Token[] = [];
    for (;;) {
      this.skipSpaceAndComments();
      const line = this.line;
      const col = this.col;
      if (this.pos >= this.src.length) {
        out.push({ kind: 'eof', text: '', line, col });
        return out;
      }
      const c = this.src[this.pos]!;
      if (/[A-Za-z_]/.test(c)) {
        const m = /[A-Za-z_][A-Za-z0-9_]*/y;
        m.lastIndex = this.pos;
        const text = m.exec(this.src)![0];
        this.advance(text.length);
        out.push({ kind: 'ident', text, line, col });
      } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(this.src[this.pos + 1] ?? ''))) {
        out.push(this.number(line, col));
      } else if (c === '"' || c === "'") {
        out.push(this.string(line, col));
      } else if (PUNCT.has(c)) {
        this.advance();
        out.push({ kind: 'punct', text: c, line, col });
      } else {
        this.fail(line, col, `unexpected character ${JSON.stringify(c)}`);
      }
    }
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.advance();
      } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f') {
        this.advance();
      } else {
        return;
      }
    }
  }

  private number(line: number, col: number): Token {
    const hex = /0[xX][0-9a-fA-F]+/y;
    const dec = /(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?/y;
    hex.lastIndex = this.pos;
    dec.lastIndex = this.pos;
    const text = (hex.exec(this.src) ?? dec.exec(this.src))![0];
    const after = this.src[this.pos + text.length] ?? '';
    if (/[A-Za-z0-9_.]/.test(after)) {
      const junk = /[A-Za-z0-9_.+-]*/y;
      junk.lastIndex = this.pos;
      this.fail(line, col, `invalid number '${junk.exec(this.src)![0]}'`);
    }
    this.advance(text.length);
    if (/^0[xX]/.test(text)) return { kind: 'int', text, value: BigInt(text), line, col };
    if (/^[0-9]+$/.test(text)) {
      // A leading zero means octal in protobuf text format, as in C.
      if (text.length > 1 && text[0] === '0') {
        if (!/^[0-7]+$/.test(text)) this.fail(line, col, `invalid octal number '${text}'`);
        return { kind: 'int', text, value: BigInt('0o' + text.slice(1)), line, col };
      }
      return { kind: 'int', text, value: BigInt(text), line, col };
    }
    return { kind: 'float', text, value: Number.parseFloat(text.replace(/[fF]$/, '')), line, col };
  }

  private string(line: number, col: number): Token {
    const quote = this.src[this.pos]!;
    const start = this.pos;
    this.advance();
    // Protobuf strings are bytes: escapes like \xc3\xa9 build UTF-8 sequences byte by byte.
    const bytes: number[] = [];
    for (;;) {
      if (this.pos >= this.src.length) this.fail(line, col, 'unterminated string');
      const c = this.src[this.pos]!;
      if (c === '\n') this.fail(this.line, this.col, 'unterminated string (newline before closing quote)');
      if (c === quote) {
        this.advance();
        break;
      }
      if (c === '\\') {
        this.escape(bytes);
        continue;
      }
      const cp = this.src.codePointAt(this.pos)!;
      const ch = String.fromCodePoint(cp);
      for (const b of utf8.encode(ch)) bytes.push(b);
      this.advance(ch.length);
    }
    let value: string;
    try {
      value = strictUtf8.decode(new Uint8Array(bytes));
    } catch {
      this.fail(line, col, 'string is not valid UTF-8');
    }
    return { kind: 'string', text: this.src.slice(start, this.pos), value, line, col };
  }

  private escape(bytes: number[]): void {
    const line = this.line;
    const col = this.col;
    const e = this.src[this.pos + 1];
    if (e === undefined) this.fail(line, col, 'unterminated string');
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]!);
      this.advance(2);
      return;
    }
    if (e === 'x' || e === 'X') {
      const m = /[0-9a-fA-F]{1,2}/y;
      m.lastIndex = this.pos + 2;
      const hex = m.exec(this.src)?.[0];
      if (!hex) this.fail(line, col, "'\\x' escape needs one or two hex digits");
      bytes.push(Number.parseInt(hex, 16));
      this.advance(2 + hex.length);
      return;
    }
    if (/[0-7]/.test(e)) {
      const m = /[0-7]{1,3}/y;
      m.lastIndex = this.pos + 1;
      const oct = m.exec(this.src)![0];
      const v = Number.parseInt(oct, 8);
      if (v > 255) this.fail(line, col, `octal escape '\\${oct}' is out of range (max \\377)`);
      bytes.push(v);
      this.advance(1 + oct.length);
      return;
    }
    if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const digits = this.src.slice(this.pos + 2, this.pos + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(digits)) {
        this.fail(line, col, `'\\${e}' escape needs exactly ${len} hex digits`);
      }
      let cp = Number.parseInt(digits, 16);
      this.advance(2 + len);
      if (cp >= 0xd800 && cp <= 0xdbff) {
        // A high surrogate must pair with a following \uDC00-\uDFFF escape.
        const low = /\\u(d[c-f][0-9a-f]{2})/iy;
        low.lastIndex = this.pos;
        const m = low.exec(this.src);
        if (!m) this.fail(line, col, 'unpaired surrogate in \\u escape');
        cp = 0x10000 + ((cp - 0xd800) << 10) + (Number.parseInt(m[1]!, 16) - 0xdc00);
        this.advance(6);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        this.fail(line, col, 'unpaired surrogate in \\u escape');
      }
      if (cp > 0x10ffff) this.fail(line, col, `'\\${e}${digits}' is beyond the last Unicode code point`);
      for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
      return;
    }
    this.fail(line, col, `unknown escape sequence '\\${e}'`);
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of input';
  if (t.kind === 'string') return `string ${t.text.length > 40 ? t.text.slice(0, 40) + '...' : t.text}`;
  return `'${t.text}'`;
}

// Integers past 2^53 would silently lose digits as numbers, so they stay decimal strings.
function intValue(v: bigint): number | string {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return v >= -max && v <= max ? Number(v) : v.toString();
}

function specialFloat(ident: string): number | undefined {
  const s = ident.toLowerCase();
  if (s === 'inf' || s === 'infinity') return Infinity;
  if (s === 'nan') return NaN;
  return undefined;
}

function addValue(msg: TextMessage, field: string, value: TextValue | undefined, line: number): void {
  // defineProperty so a field called "__proto__" is stored, not treated as the prototype.
  if (!Object.hasOwn(msg, field)) {
    Object.defineProperty(msg, field, { value: [], enumerable: true, writable: true, configurable: true });
  }
  const holder = msg as unknown as Located;
  if (!holder[LINES]) Object.defineProperty(msg, LINES, { value: Object.create(null), enumerable: false });
  const lines = (holder[LINES]![field] ??= { name: line, values: [] });
  if (value !== undefined) {
    msg[field]!.push(value);
    lines.values.push(line);
  }
}

class Parser {
  private i = 0;

  constructor(private readonly toks: Token[], private readonly fileName: string) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }

  private next(): Token {
    const t = this.toks[this.i]!;
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isPunct(t: Token, ...texts: string[]): boolean {
    return t.kind === 'punct' && texts.includes(t.text);
  }

  private fail(t: Token, msg: string): never {
    throw new TextProtoError(this.fileName, t.line, t.col, msg);
  }

  parseMessage(open: Token | null, owner: string, depth: number): TextMessage {
    if (depth > MAX_DEPTH) this.fail(open ?? this.peek(), `messages nested more than ${MAX_DEPTH} deep`);
    const closer = open === null ? null : open.text === '{' ? '}' : '>';
    const msg: TextMessage = {};
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        if (open === null || closer === null) return msg;
        this.fail(t, `expected '${closer}' to close '${owner}' opened at line ${open.line}:${open.col}, found end of input`);
      }
      if (closer !== null && this.isPunct(t, closer)) {
        this.next();
        return msg;
      }
      if (t.kind !== 'ident') {
        if (closer === null && this.isPunct(t, '}', '>')) this.fail(t, `unexpected '${t.text}' with no open message`);
        this.fail(t, `expected field name${closer ? ` or '${closer}'` : ''}, found ${describe(t)}`);
      }
      this.next();
      this.parseField(msg, t.text, depth);
      const sep = this.peek();
      if (this.isPunct(sep, ',', ';')) this.next();
    }
  }

  private parseField(msg: TextMessage, name: string, depth: number): void {
    const t = this.peek();
    if (this.isPunct(t, ':')) {
      this.next();
      const v = this.peek();
      if (this.isPunct(v, '{', '<')) addValue(msg, name, this.parseMessage(this.next(), name, depth + 1), v.line);
      else if (this.isPunct(v, '[')) this.parseList(msg, name, true, depth);
      else addValue(msg, name, this.parseScalar(name), v.line);
    } else if (this.isPunct(t, '{', '<')) {
      addValue(msg, name, this.parseMessage(this.next(), name, depth + 1), t.line);
    } else if (this.isPunct(t, '[')) {
      this.parseList(msg, name, false, depth);
    } else {
      this.fail(t, `expected ':' or '{' after field name '${name}', found ${describe(t)}`);
    }
  }

  private parseList(msg: TextMessage, name: string, scalarsAllowed: boolean, depth: number): void {
    const open = this.next();
    addValue(msg, name, undefined, open.line); // so `dims: []` is recorded as present but empty
    if (this.isPunct(this.peek(), ']')) {
      this.next();
      return;
    }
    for (;;) {
      const t = this.peek();
      if (this.isPunct(t, '{', '<')) {
        addValue(msg, name, this.parseMessage(this.next(), name, depth + 1), t.line);
      } else if (scalarsAllowed) {
        addValue(msg, name, this.parseScalar(name), t.line);
      } else {
        this.fail(t, `expected '{' in list for field '${name}' (a list of plain values needs '${name}: [...]'), found ${describe(t)}`);
      }
      const sep = this.peek();
      if (this.isPunct(sep, ',')) this.next();
      else if (this.isPunct(sep, ']')) {
        this.next();
        return;
      } else this.fail(sep, `expected ',' or ']' in list for field '${name}', found ${describe(sep)}`);
    }
  }

  private parseScalar(name: string): TextValue {
    const t = this.next();
    switch (t.kind) {
      case 'string': {
        let s = t.value;
        // Adjacent literals concatenate, as in C.
        for (let n = this.peek(); n.kind === 'string'; n = this.peek()) {
          s += n.value;
          this.next();
        }
        return s;
      }
      case 'int':
        return intValue(t.value);
      case 'float':
        return t.value;
      case 'ident': {
        if (t.text === 'true' || t.text === 'True' || t.text === 't') return true;
        if (t.text === 'false' || t.text === 'False' || t.text === 'f') return false;
        return specialFloat(t.text) ?? t.text;
      }
      case 'punct':
        if (t.text === '-') {
          const n = this.next();
          if (n.kind === 'int') return intValue(-n.value);
          if (n.kind === 'float') return -n.value;
          const special = n.kind === 'ident' ? specialFloat(n.text) : undefined;
          if (special !== undefined) return -special;
          this.fail(n, `expected a number after '-' for field '${name}', found ${describe(n)}`);
        }
        break;
      case 'eof':
        break;
    }
    this.fail(t, `expected a value for field '${name}', found ${describe(t)}`);
  }
}

/**
 * Parses protobuf text format. `fileName` only labels error messages
 * ("config.pbtxt:3:7: expected ...").
 */
export function parseTextProto(text: string, fileName = 'config.pbtxt'): TextMessage {
  const tokens = new Lexer(text, fileName).tokenize();
  return new Parser(tokens, fileName).parseMessage(null, '', 0);
}
