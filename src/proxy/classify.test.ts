// classifyUpstreamResponse: every row of SPEC §7.3, payment phrases as whole words, Retry-After and reset parsing.
import { describe, expect, it } from 'vitest';
import {
  classifyUpstreamResponse,
  mentionsPayment,
  mentionsQuota,
  parseResetTime,
  parseRetryAfter,
} from './classify.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const classify = (
  status: number,
  body: string | null = null,
  headers: Record<string, string> = {},
) => classifyUpstreamResponse(status, headers, body, NOW);

describe('classifyUpstreamResponse', () => {
  it.each([
    [200, null, 'success'],
    [201, null, 'success'],
    [304, null, 'success'],
    [400, '{"error":{"message":"invalid plan parameter, see explanation"}}', 'client_error'],
    [404, null, 'client_error'],
    [413, null, 'client_error'],
    [422, null, 'client_error'],
    [405, null, 'client_error'],
    [401, null, 'auth'],
    [402, null, 'payment'],
    [400, '{"error":{"message":"Payment Required"}}', 'payment'],
    [400, 'insufficient_balance', 'payment'],
    [403, 'Your membership expired', 'payment'],
    [403, 'check your billing details', 'payment'],
    [403, 'please recharge your account', 'payment'],
    [403, '账户欠费', 'payment'],
    [403, '余额不足', 'payment'],
    [403, 'You exceeded your usage limit', 'quota'],
    [403, 'QUOTA exhausted', 'quota'],
    [403, 'rate limit exceeded', 'quota'],
    [403, 'forbidden model', 'forbidden'],
    [403, null, 'forbidden'],
    [429, null, 'rate_limited'],
    [500, null, 'server_error'],
    [502, 'payment required', 'server_error'],
    [503, null, 'server_error'],
    [504, null, 'server_error'],
  ] as const)('%i %s → %s', (status, body, kind) => {
    expect(classify(status, body).kind).toBe(kind);
  });

  it('never matches payment words inside other words', () => {
    for (const text of [
      'explanation',
      'invalid plan parameter',
      'billings',
      'rebilling',
      'recharged',
      'prepayment required',
      'insufficient balances',
    ]) {
      expect(mentionsPayment(text), text).toBe(false);
    }
    expect(mentionsQuota('quotation')).toBe(false);
    expect(mentionsPayment('Billing: overdue')).toBe(true);
  });

  it('429 carries Retry-After in ms (seconds or HTTP date); null without it', () => {
    expect(classify(429, null, { 'retry-after': '30' })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 30_000,
    });
    expect(classify(429, null, { 'retry-after': new Date(NOW + 90_000).toUTCString() })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 90_000,
    });
    expect(classify(429)).toEqual({ kind: 'rate_limited', retryAfterMs: null });
    expect(classify(429, null, { 'retry-after': 'soon' })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: null,
    });
  });

  it('403 quota carries the reset time when the body or Retry-After gives one', () => {
    const reset = new Date(NOW + 3_600_000).toISOString();
    expect(
      classify(
        403,
        JSON.stringify({ error: { message: 'usage limit reached', resetTime: reset } }),
      ),
    ).toEqual({
      kind: 'quota',
      resetAtMs: NOW + 3_600_000,
    });
    expect(classify(403, '{"message":"quota","reset_at":' + (NOW / 1000 + 60) + '}')).toEqual({
      kind: 'quota',
      resetAtMs: NOW + 60_000,
    });
    expect(classify(403, 'quota', { 'retry-after': '120' })).toEqual({
      kind: 'quota',
      resetAtMs: NOW + 120_000,
    });
    expect(classify(403, 'quota')).toEqual({ kind: 'quota', resetAtMs: null });
  });
});

describe('parsers', () => {
  it('parseRetryAfter', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeNull();
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 2.5 ', NOW)).toBe(2500);
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('12345678901234567890x', NOW)).toBeNull();
  });

  it('parseResetTime ignores past and far-future times', () => {
    expect(
      parseResetTime({}, `{"resetTime":"${new Date(NOW - 1000).toISOString()}"}`, NOW),
    ).toBeNull();
    expect(
      parseResetTime({}, `{"resetTime":"${new Date(NOW + 30 * 86_400_000).toISOString()}"}`, NOW),
    ).toBeNull();
    expect(parseResetTime({}, `{"resets_at":${NOW + 5000}}`, NOW)).toBe(NOW + 5000);
  });
});
