import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTextProto, TextProtoError } from './pbtxt.js';

function fails(text: string, message: string): void {
  assert.throws(() => parseTextProto(text), (e: unknown) => {
    assert.ok(e instanceof TextProtoError, `expected TextProtoError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

test('scalar fields: strings, integers, floats, identifiers', () => {
  assert.deepEqual(parseTextProto('name: "m" max_batch_size: 8 scale: 0.5 data_type: TYPE_FP32'), {
    name: ['m'],
    max_batch_size: [8],
    scale: [0.5],
    data_type: ['TYPE_FP32'],
  });
});

test('an empty document is an empty message', () => {
  assert.deepEqual(parseTextProto(''), {});
  assert.deepEqual(parseTextProto('  # only a comment\n\n'), {});
});

test('repeated fields collect every value in order', () => {
  assert.deepEqual(parseTextProto('dims: 1 dims: 2\ndims: 3'), { dims: [1, 2, 3] });
});

test('nested messages with {}, : {}, <> and : <>', () => {
  const expected = { a: [{ b: [1] }] };
  assert.deepEqual(parseTextProto('a { b: 1 }'), expected);
  assert.deepEqual(parseTextProto('a: { b: 1 }'), expected);
  assert.deepEqual(parseTextProto('a < b: 1 >'), expected);
  assert.deepEqual(parseTextProto('a: < b: 1 >'), expected);
  assert.deepEqual(parseTextProto('a { }'), { a: [{}] });
  assert.deepEqual(parseTextProto('a { b { c { d: "deep" } } }'), { a: [{ b: [{ c: [{ d: ['deep'] }] }] }] });
});

test('list syntax for values and for messages', () => {
  assert.deepEqual(parseTextProto('dims: [1, 2, 3]'), { dims: [1, 2, 3] });
  assert.deepEqual(parseTextProto('dims: [ -1 ]  dims: [4]'), { dims: [-1, 4] });
  assert.deepEqual(parseTextProto('input [ { name: "a" }, { name: "b" } ]'), {
    input: [{ name: ['a'] }, { name: ['b'] }],
  });
  assert.deepEqual(parseTextProto('input: [ { name: "a" }, < name: "b" > ]'), {
    input: [{ name: ['a'] }, { name: ['b'] }],
  });
  assert.deepEqual(parseTextProto('names: ["x", \'y\', Z]'), { names: ['x', 'y', 'Z'] });
});

test('an empty list records the field as present with no values', () => {
  const m = parseTextProto('dims: [] input []');
  assert.deepEqual(m, { dims: [], input: [] });
  assert.ok(Object.hasOwn(m, 'dims'));
});

test('commas and semicolons may separate fields', () => {
  assert.deepEqual(parseTextProto('a: 1, b: 2; c { d: 3, e: 4; }, f: 5;'), {
    a: [1], b: [2], c: [{ d: [3], e: [4] }], f: [5],
  });
});

test('# comments run to end of line, but not inside strings', () => {
  const m = parseTextProto('# header\na: 1 # trailing\n# b: 2\nc: "not # a comment" # done');
  assert.deepEqual(m, { a: [1], c: ['not # a comment'] });
});

test('double- and single-quoted strings with escapes', () => {
  assert.deepEqual(parseTextProto(String.raw`s: "a\nb\tc\\d\"e\'f"`), { s: ['a\nb\tc\\d"e\'f'] });
  assert.deepEqual(parseTextProto(String.raw`s: 'it\'s "quoted"'`), { s: ['it\'s "quoted"'] });
  assert.deepEqual(parseTextProto(String.raw`s: "\r\a\b\f\v\?"`), { s: ['\r\x07\b\f\v?'] });
  assert.deepEqual(parseTextProto(String.raw`s: "\x41\x4a\X6b\x7"`), { s: ['AJk\x07'] });
  assert.deepEqual(parseTextProto(String.raw`s: "\101\60\0"`), { s: ['A0\0'] });
  // Octal escapes take at most three digits.
  assert.deepEqual(parseTextProto(String.raw`s: "\1011"`), { s: ['A1'] });
});

test('escaped bytes are decoded as UTF-8, like protobuf strings', () => {
  assert.deepEqual(parseTextProto(String.raw`s: "caf\xc3\xa9 \303\251"`), { s: ['café é'] });
  assert.deepEqual(parseTextProto(String.raw`s: "\u00e9\U0001F600\ud83d\ude00"`), { s: ['é😀😀'] });
  assert.deepEqual(parseTextProto('s: "naïve 日本 😀"'), { s: ['naïve 日本 😀'] });
  // A BOM written as bytes is kept, not stripped.
  assert.deepEqual(parseTextProto(String.raw`s: "\xef\xbb\xbfx"`), { s: ['\ufeffx'] });
});

test('adjacent string literals concatenate, across lines and comments', () => {
  assert.deepEqual(parseTextProto('s: "ab" \'cd\'\n  # note\n  "ef" t: 1'), { s: ['abcdef'], t: [1] });
  assert.deepEqual(parseTextProto('s: ["a" "b", "c"]'), { s: ['ab', 'c'] });
});

test('numbers: negatives, floats, exponents, f suffix', () => {
  assert.deepEqual(parseTextProto('a: -1 b: -2.5 c: 1e3 d: 1.5e-2 e: .25 f: 2.5f g: 3. h: - 7 i: 0 j: -0.0 k: 1E+2'), {
    a: [-1], b: [-2.5], c: [1000], d: [0.015], e: [0.25], f: [2.5], g: [3], h: [-7], i: [0], j: [-0], k: [100],
  });
  assert.ok(Object.is(parseTextProto('j: -0.0').j![0], -0));
});

test('numbers: hex and octal integers', () => {
  assert.deepEqual(parseTextProto('a: 0x1F b: 0XfF c: -0x10 d: 017 e: 00'), { a: [31], b: [255], c: [-16], d: [15], e: [0] });
});

test('integers beyond 2^53 stay exact as decimal strings', () => {
  assert.deepEqual(parseTextProto('a: 9007199254740991 b: -9007199254740991'), {
    a: [9007199254740991], b: [-9007199254740991],
  });
  assert.deepEqual(parseTextProto('a: 9007199254740993 b: -18446744073709551615 c: 0xFFFFFFFFFFFFFFFF'), {
    a: ['9007199254740993'], b: ['-18446744073709551615'], c: ['18446744073709551615'],
  });
});

test('booleans in every spelling text format allows', () => {
  assert.deepEqual(parseTextProto('a: true b: True c: t d: false e: False f: f'), {
    a: [true], b: [true], c: [true], d: [false], e: [false], f: [false],
  });
  // Other capitalisations are plain identifiers.
  assert.deepEqual(parseTextProto('a: TRUE'), { a: ['TRUE'] });
});

test('inf and nan, with or without sign', () => {
  const m = parseTextProto('a: inf b: -inf c: -Infinity d: nan e: -NaN');
  assert.deepEqual(m, { a: [Infinity], b: [-Infinity], c: [-Infinity], d: [NaN], e: [NaN] });
});

test('map fields are repeated key/value entries', () => {
  const m = parseTextProto(`
    parameters { key: "x" value: { string_value: "y" } }
    parameters: { key: "z", value { string_value: "w" } }
  `);
  assert.deepEqual(m, {
    parameters: [
      { key: ['x'], value: [{ string_value: ['y'] }] },
      { key: ['z'], value: [{ string_value: ['w'] }] },
    ],
  });
});

test('a field named __proto__ is an ordinary own field', () => {
  const m = parseTextProto('__proto__ { polluted: 1 } constructor: 2');
  assert.deepEqual(Object.keys(m), ['__proto__', 'constructor']);
  assert.deepEqual(m['__proto__'], [{ polluted: [1] }]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(m), Object.prototype);
});

test('a leading byte-order mark and CRLF line ends are accepted', () => {
  assert.deepEqual(parseTextProto('\ufeffa: 1\r\nb: "x"\r\n'), { a: [1], b: ['x'] });
});

test('errors carry file, line and column', () => {
  const text = 'input {\n  name: "x"\n  dims }\n';
  assert.throws(() => parseTextProto(text, 'models/m/config.pbtxt'), (e: unknown) => {
    assert.ok(e instanceof TextProtoError);
    assert.equal(e.message, "models/m/config.pbtxt:3:8: expected ':' or '{' after field name 'dims', found '}'");
    assert.equal(e.fileName, 'models/m/config.pbtxt');
    assert.equal(e.line, 3);
    assert.equal(e.column, 8);
    assert.equal(e.detail, "expected ':' or '{' after field name 'dims', found '}'");
    return true;
  });
});

test('the default file name is config.pbtxt', () => {
  fails('a: 1\nb\n', "config.pbtxt:3:1: expected ':' or '{' after field name 'b', found end of input");
});

test('error: value expected', () => {
  fails('a: }', "config.pbtxt:1:4: expected a value for field 'a', found '}'");
  fails('a:', "config.pbtxt:1:3: expected a value for field 'a', found end of input");
  fails('a: -foo', "config.pbtxt:1:5: expected a number after '-' for field 'a', found 'foo'");
  fails('a: "x" : 1', "config.pbtxt:1:8: expected field name, found ':'");
});

test('error: a field without ":" cannot take a plain value', () => {
  fails('name "x"', "config.pbtxt:1:6: expected ':' or '{' after field name 'name', found string \"x\"");
  fails('dims [1, 2]', "config.pbtxt:1:7: expected '{' in list for field 'dims' (a list of plain values needs 'dims: [...]'), found '1'");
});

test('error: lists need commas and a closing bracket', () => {
  fails('dims: [1 2]', "config.pbtxt:1:10: expected ',' or ']' in list for field 'dims', found '2'");
  fails('dims: [1, 2', "config.pbtxt:1:12: expected ',' or ']' in list for field 'dims', found end of input");
  fails('dims: [1,]', "config.pbtxt:1:10: expected a value for field 'dims', found ']'");
});

test('error: unbalanced or mismatched message delimiters', () => {
  fails('a {\n  b: 1\n', "config.pbtxt:3:1: expected '}' to close 'a' opened at line 1:3, found end of input");
  fails('a { b: 1 >', "config.pbtxt:1:10: expected field name or '}', found '>'");
  fails('a < b: 1 }', "config.pbtxt:1:10: expected field name or '>', found '}'");
  fails('a: 1 }', "config.pbtxt:1:6: unexpected '}' with no open message");
  fails('{ a: 1 }', "config.pbtxt:1:1: expected field name, found '{'");
});

test('error: bad characters and numbers', () => {
  fails('a: 1\nb: @', 'config.pbtxt:2:4: unexpected character "@"');
  fails('a: 1.2.3', "config.pbtxt:1:4: invalid number '1.2.3'");
  fails('a: 12abc', "config.pbtxt:1:4: invalid number '12abc'");
  fails('a: 0x', "config.pbtxt:1:4: invalid number '0x'");
  fails('a: 08', "config.pbtxt:1:4: invalid octal number '08'");
  fails('1: 2', "config.pbtxt:1:1: expected field name, found '1'");
});

test('error: bad strings and escapes', () => {
  fails('a: "abc', 'config.pbtxt:1:4: unterminated string');
  fails('a: "abc\n"', 'config.pbtxt:1:8: unterminated string (newline before closing quote)');
  fails('a: \'x"', 'config.pbtxt:1:4: unterminated string');
  fails(String.raw`a: "x\q"`, "config.pbtxt:1:6: unknown escape sequence '\\q'");
  fails(String.raw`a: "\xg"`, "config.pbtxt:1:5: '\\x' escape needs one or two hex digits");
  fails(String.raw`a: "\400"`, "config.pbtxt:1:5: octal escape '\\400' is out of range (max \\377)");
  fails(String.raw`a: "\u12"`, "config.pbtxt:1:5: '\\u' escape needs exactly 4 hex digits");
  fails(String.raw`a: "\ud800x"`, 'config.pbtxt:1:5: unpaired surrogate in \\u escape');
  fails(String.raw`a: "\udc00"`, 'config.pbtxt:1:5: unpaired surrogate in \\u escape');
  fails(String.raw`a: "\U00110000"`, "config.pbtxt:1:5: '\\U00110000' is beyond the last Unicode code point");
  fails(String.raw`a: "\xff"`, 'config.pbtxt:1:4: string is not valid UTF-8');
});

test('error: nesting deeper than 100 levels', () => {
  const ok = 'a { '.repeat(100) + '}'.repeat(100);
  assert.doesNotThrow(() => parseTextProto(ok));
  const deep = 'a { '.repeat(101) + '}'.repeat(101);
  assert.throws(() => parseTextProto(deep), /messages nested more than 100 deep/);
});
