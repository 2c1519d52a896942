import { describe, expect, it } from 'vitest';
import { bytesAre, hasEscape, skipSpace, skipString, skipValue } from './json-bytes.js';

const b = (text: string) => Buffer.from(text);

describe('json-bytes', () => {
  it('skips a string to just past its closing quote, whatever it escapes', () => {
    expect(skipString(b('"abc" tail'), 0)).toBe(5);
    expect(skipString(b('"a\\"b" tail'), 0)).toBe(6); // \" does not end it
    expect(skipString(b('"a\\\\" tail'), 0)).toBe(5); // \\ then the closing quote
    expect(skipString(b('"a\\\\\\"b" tail'), 0)).toBe(8); // \\ \" then b
    expect(skipString(b('"café 😀"'), 0)).toBe(b('"café 😀"').length);
    expect(skipString(b('"never ends\\"'), 0)).toBe(-1);
  });

  it('skips any value: nested containers with brackets inside strings, and literals', () => {
    const text = '{"a":[1,{"b":"]}\\"{"}],"c":null} ,rest';
    expect(skipValue(b(text), 0)).toBe(text.indexOf(' ,rest'));
    expect(skipValue(b('[ [], {} ]x'), 0)).toBe(10);
    expect(skipValue(b('true,'), 0)).toBe(4);
    expect(skipValue(b('-12.5e3}'), 0)).toBe(7);
    expect(skipValue(b('{"open": [1, 2}'), 0)).toBe(-1);
    expect(skipValue(b(','), 0)).toBe(-1);
  });

  it('compares short tokens and spots escapes and whitespace', () => {
    const body = b('  \n\t"type": "te\\u0078t"');
    const key = skipSpace(body, 0);
    expect(key).toBe(4);
    expect(bytesAre(body, key, skipString(body, key), b('"type"'))).toBe(true);
    expect(bytesAre(body, key, key + 5, b('"type"'))).toBe(false);
    const value = skipSpace(body, skipString(body, key) + 1);
    expect(hasEscape(body, key, skipString(body, key))).toBe(false);
    expect(hasEscape(body, value, skipString(body, value))).toBe(true);
  });
});
