import { describe, expect, it } from 'vitest';
import { SkipFile } from './entry.js';
import {
  displayValue,
  optionalBaseUrl,
  optionalDisabled,
  optionalEmail,
  optionalLabel,
  optionalPriority,
  requireApiKey,
} from './fields.js';

function skipOf(fn: () => unknown): SkipFile['note'] {
  try {
    fn();
  } catch (err) {
    if (err instanceof SkipFile) return err.note;
    throw err;
  }
  throw new Error('expected SkipFile');
}

describe('requireApiKey', () => {
  it('trims and accepts a printable key', () => {
    expect(requireApiKey('  sk-abc123  ', 'api_key')).toBe('sk-abc123');
  });

  it.each([
    [undefined, 'auth.warn.missingKey'],
    ['', 'auth.warn.missingKey'],
    ['   \t ', 'auth.warn.missingKey'],
    [null, 'auth.warn.nullKey'],
    [42, 'auth.warn.keyNotString'],
    [true, 'auth.warn.keyNotString'],
    [{ key: 'x' }, 'auth.warn.keyNotString'],
    [['sk-1'], 'auth.warn.keyNotString'],
    ['sk-abc def', 'auth.warn.keyBadChars'],
    ['sk-abc\ndef', 'auth.warn.keyBadChars'],
    ['sk-ключ', 'auth.warn.keyBadChars'],
  ])('%j → %s', (value, messageKey) => {
    const note = skipOf(() => requireApiKey(value, 'api_key'));
    expect(note.messageKey).toBe(messageKey);
    expect(note.params.field).toBe('api_key');
  });

  it('never turns null into the text "None" or "null"', () => {
    expect(() => requireApiKey(null, 'api_key')).toThrow(SkipFile);
  });
});

describe('optionalPriority', () => {
  it.each([
    [undefined, 0],
    [null, 0],
    ['', 0],
    ['  ', 0],
    ['10', 10],
    ['-5', -5],
    ['+3', 3],
    [' 7 ', 7],
    [4, 4],
    [-2, -2],
  ])('%j → %d', (value, expected) => {
    expect(optionalPriority(value, 'priority')).toBe(expected);
  });

  it('accepts a TOML bigint within the safe range', () => {
    expect(optionalPriority(5n, 'priority')).toBe(5);
  });

  it.each([['high'], ['1.5'], ['1e3'], [1.5], [Number.NaN], [1e20], [true], [[1]]])(
    '%j is rejected naming the field',
    (value) => {
      const note = skipOf(() => optionalPriority(value, 'KMI_KEY_PRIORITY'));
      expect(['auth.warn.badValue', 'auth.warn.badType']).toContain(note.messageKey);
      expect(note.params.field).toBe('KMI_KEY_PRIORITY');
    },
  );
});

describe('optionalDisabled', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['1', true],
    ['yes', true],
    ['ON', true],
    ['false', false],
    ['0', false],
    [true, true],
    [false, false],
    [1, true],
    [0, false],
  ])('%j → %s', (value, expected) => {
    expect(optionalDisabled(value, 'disabled')).toBe(expected);
  });

  it.each([['maybe'], [2], [{}]])('%j is rejected naming the field', (value) => {
    const note = skipOf(() => optionalDisabled(value, 'KMI_KEY_DISABLED'));
    expect(note.params.field).toBe('KMI_KEY_DISABLED');
  });
});

describe('optionalLabel / optionalEmail', () => {
  it('treats blank as absent and trims', () => {
    expect(optionalLabel('  ', 'label')).toBeNull();
    expect(optionalLabel(' work ', 'label')).toBe('work');
    expect(optionalEmail('', 'email')).toBeNull();
    expect(optionalEmail('a@b.c', 'email')).toBe('a@b.c');
  });

  it('rejects non-strings and control characters', () => {
    expect(skipOf(() => optionalLabel(5, 'label')).messageKey).toBe('auth.warn.badType');
    expect(skipOf(() => optionalLabel('a\nb', 'label')).messageKey).toBe('auth.warn.badValue');
    expect(skipOf(() => optionalEmail(['x'], 'email')).messageKey).toBe('auth.warn.badType');
  });
});

describe('optionalBaseUrl', () => {
  it('normalises a good URL and treats blank as absent', () => {
    expect(optionalBaseUrl('https://api.kimi.com/coding/v1/', 'base_url', [])).toBe(
      'https://api.kimi.com/coding/v1',
    );
    expect(optionalBaseUrl('http://127.0.0.1:9000/v1', 'base_url', [])).toBe(
      'http://127.0.0.1:9000/v1',
    );
    expect(optionalBaseUrl('', 'base_url', [])).toBeNull();
  });

  it.each([
    ['http://api.example.com/v1', [], 'scheme'],
    ['not a url', [], 'invalid'],
    ['https://user:secret@api.kimi.com/v1', [], 'userinfo'],
    ['https://evil.example.com/v1', ['api.kimi.com'], 'allowlist'],
  ])('%s is rejected (%s)', (url, allowlist, problem) => {
    const note = skipOf(() => optionalBaseUrl(url, 'base_url', allowlist));
    expect(note.messageKey).toBe('auth.warn.badBaseUrl');
    expect(note.params.expected).toEqual({ ref: `config.expect.upstream.${problem}` });
    expect(JSON.stringify(note.params)).not.toContain('secret');
  });
});

describe('displayValue', () => {
  it('shows short values and masks long ones', () => {
    expect(displayValue('high')).toBe('high');
    expect(displayValue('sk-abcdefghijklmnopqrstuvwxyz')).toBe('sk-a…wxyz');
  });
});
