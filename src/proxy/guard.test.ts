// The token check: where the token may come from, in which order, and that no token means no check.
import { describe, expect, it } from 'vitest';
import { createTokenCheck } from './guard.js';
import { readClientHeaders } from './headers.js';

const check = createTokenCheck('s3cret')!;
const ok = (...raw: string[]) => check(readClientHeaders(raw));

describe('createTokenCheck', () => {
  it('is null without a token', () => {
    expect(createTokenCheck('')).toBeNull();
  });

  it('accepts the token in x-kmi-proxy-token, Authorization: Bearer or x-api-key', () => {
    expect(ok('x-kmi-proxy-token', 's3cret')).toBe(true);
    expect(ok('authorization', 'Bearer s3cret')).toBe(true);
    expect(ok('x-api-key', 's3cret')).toBe(true);
  });

  it('checks x-kmi-proxy-token first, whatever else is sent', () => {
    expect(ok('x-kmi-proxy-token', 'wrong', 'authorization', 'Bearer s3cret')).toBe(false);
    expect(ok('authorization', 'Bearer wrong', 'x-kmi-proxy-token', 's3cret')).toBe(true);
  });

  it('refuses missing, wrong, longer and prefixed tokens', () => {
    expect(ok()).toBe(false);
    expect(ok('x-kmi-proxy-token', 's3cre')).toBe(false);
    expect(ok('x-kmi-proxy-token', 's3crett')).toBe(false);
    expect(ok('authorization', 's3cret')).toBe(false);
  });
});
