import { describe, expect, it } from 'vitest';
import {
  addKeyCounters,
  blockKey,
  blockedUntilMs,
  clearBlock,
  clearExhausted,
  isBlocked,
  isExhausted,
  keyState,
  markExhausted,
  markUsed,
} from './key-state.js';
import { emptyKeyState, emptyState, formatUtc } from './schema.js';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);

describe('keyState', () => {
  it('creates an empty entry once and returns the same object after', () => {
    const state = emptyState();
    const a = keyState(state, 'alpha');
    expect(a).toEqual(emptyKeyState());
    a.request_count = 3;
    expect(keyState(state, 'alpha').request_count).toBe(3);
    expect(Object.keys(state.keys)).toEqual(['alpha']);
  });

  it('does not mistake inherited properties for keys', () => {
    const state = emptyState();
    const ks = keyState(state, 'toString');
    expect(ks).toEqual(emptyKeyState());
    expect(Object.hasOwn(state.keys, 'toString')).toBe(true);
  });
});

describe('isBlocked', () => {
  it('follows the Python rules', () => {
    const ks = emptyKeyState();
    expect(isBlocked(ks, NOW)).toBe(false);
    ks.blocked_reason = 'auth';
    expect(isBlocked(ks, NOW)).toBe(true); // no end: until recheck/unblock
    ks.blocked_until = formatUtc(NOW + 1000);
    expect(isBlocked(ks, NOW)).toBe(true);
    expect(blockedUntilMs(ks, NOW)).toBe(NOW + 1000);
    ks.blocked_until = formatUtc(NOW - 1000);
    expect(isBlocked(ks, NOW)).toBe(false); // expired
    expect(blockedUntilMs(ks, NOW)).toBeNull();
    ks.blocked_until = 'garbage';
    expect(isBlocked(ks, NOW)).toBe(true); // unreadable end never unblocks
    ks.blocked_reason = null;
    ks.blocked_until = formatUtc(NOW + 5000);
    expect(isBlocked(ks, NOW)).toBe(true); // time alone also blocks
  });
});

describe('blockKey / clearBlock', () => {
  it('sets and clears all block fields', () => {
    const ks = emptyKeyState();
    blockKey(ks, 'payment', NOW, NOW + 3600_000);
    expect(ks).toMatchObject({
      blocked_reason: 'payment',
      blocked_until: formatUtc(NOW + 3600_000),
      blocked_at: formatUtc(NOW),
    });
    expect(clearBlock(ks)).toBe(true);
    expect(ks).toMatchObject({ blocked_reason: null, blocked_until: null, blocked_at: null });
    expect(clearBlock(ks)).toBe(false);
    blockKey(ks, 'auth', NOW, null);
    expect(ks.blocked_until).toBeNull();
    expect(isBlocked(ks, NOW + 1e9)).toBe(true);
  });

  it('does not add blocked_at to a Python-shaped entry when clearing', () => {
    const ks = emptyKeyState();
    ks.blocked_reason = 'auth';
    clearBlock(ks);
    expect('blocked_at' in ks).toBe(false);
  });
});

describe('exhaustion', () => {
  it('is active until exhausted_until, and never shortened', () => {
    const ks = emptyKeyState();
    expect(isExhausted(ks, NOW)).toBe(false);
    markExhausted(ks, NOW + 60_000);
    expect(isExhausted(ks, NOW)).toBe(true);
    expect(isExhausted(ks, NOW + 60_000)).toBe(false);
    markExhausted(ks, NOW + 10_000);
    expect(ks.exhausted_until).toBe(formatUtc(NOW + 60_000));
    markExhausted(ks, NOW + 120_000);
    expect(ks.exhausted_until).toBe(formatUtc(NOW + 120_000));
    ks.exhausted_until = 'garbage';
    expect(isExhausted(ks, NOW)).toBe(false);
    expect(clearExhausted(ks)).toBe(true);
    expect(ks.exhausted_until).toBeNull();
    expect(clearExhausted(ks)).toBe(false);
  });
});

describe('addKeyCounters / markUsed', () => {
  it('adds deltas, ignores junk, never goes below zero', () => {
    const ks = emptyKeyState();
    addKeyCounters(ks, { request_count: 5, error_429: 2 });
    addKeyCounters(ks, { request_count: 1, error_5xx: Number.NaN, error_429: -10 });
    expect(ks).toMatchObject({ request_count: 6, error_429: 0, error_5xx: 0 });
  });

  it('stamps last_used in state time format', () => {
    const ks = emptyKeyState();
    markUsed(ks, NOW);
    expect(ks.last_used).toBe('2026-01-10T12:00:00Z');
  });
});
