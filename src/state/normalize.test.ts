import { describe, expect, it } from 'vitest';
import { normalizeKeyState, normalizeState, normalizeUsageSnapshot } from './normalize.js';
import { emptyKeyState, emptyState } from './schema.js';

describe('normalizeState', () => {
  it('turns non-objects into an empty state', () => {
    for (const raw of [null, 1, 'x', [], true, undefined])
      expect(normalizeState(raw)).toEqual(emptyState());
  });

  it('fills missing fields with defaults', () => {
    expect(normalizeState({})).toEqual(emptyState());
    expect(normalizeState({ keys: { a: {} } }).keys.a).toEqual(emptyKeyState());
  });

  it('coerces wrong types to defaults instead of crashing', () => {
    const state = normalizeState({
      schema_version: 'one',
      active_index: -3,
      rotation_index: 2.7,
      auto_rotate: 'yes',
      last_health_refresh: 5,
      active_label: 7,
      keys: [],
    });
    expect(state).toMatchObject({
      schema_version: 1,
      active_index: 0,
      rotation_index: 2,
      auto_rotate: false,
      last_health_refresh: null,
      active_label: null,
      keys: {},
    });
  });

  it('accepts digit strings for counters (hand-edited files)', () => {
    expect(normalizeState({ active_index: '3' }).active_index).toBe(3);
    expect(normalizeKeyState({ request_count: ' 12 ' }).request_count).toBe(12);
    expect(normalizeKeyState({ request_count: '1e3' }).request_count).toBe(0);
  });

  it('keeps unknown fields and their order, at both levels', () => {
    const raw = {
      future_top: { nested: [1, 2] },
      schema_version: 1,
      keys: { a: { custom: 'kept', request_count: 4 } },
    };
    const state = normalizeState(raw);
    expect(state.future_top).toEqual({ nested: [1, 2] });
    expect(Object.keys(state)[0]).toBe('future_top');
    expect(state.keys.a?.custom).toBe('kept');
    expect(Object.keys(state.keys.a ?? {}).slice(0, 2)).toEqual(['custom', 'request_count']);
  });

  it('does not add kmi-only fields to a Python-tool file', () => {
    const raw = {
      schema_version: 1,
      active_index: 0,
      rotation_index: 0,
      auto_rotate: false,
      last_health_refresh: null,
      keys: { a: emptyKeyState() },
    };
    expect(normalizeState(structuredClone(raw))).toEqual(raw);
    expect('active_label' in normalizeState(raw)).toBe(false);
  });

  it('does not mutate its input', () => {
    const raw = { active_index: 'x', keys: { a: { request_count: -1 } } };
    const copy = structuredClone(raw);
    normalizeState(raw);
    expect(raw).toEqual(copy);
  });

  it('keeps a key labelled __proto__ as data, not as a prototype', () => {
    const raw = JSON.parse('{"keys":{"__proto__":{"request_count":2}}}') as unknown;
    const state = normalizeState(raw);
    expect(Object.hasOwn(state.keys, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(state.keys)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(state)).keys.__proto__.request_count).toBe(2);
  });
});

describe('normalizeKeyState', () => {
  it('coerces each known field', () => {
    const ks = normalizeKeyState({
      last_used: 3,
      request_count: 'many',
      error_401: 2,
      error_403: null,
      error_429: -5,
      error_5xx: 1.9,
      exhausted_until: {},
      blocked_until: '2026-01-01T00:00:00Z',
      blocked_reason: false,
      consecutive_failures: 'x',
      last_error: 42,
    });
    expect(ks).toEqual({
      last_used: null,
      request_count: 0,
      error_401: 2,
      error_403: 0,
      error_429: 0,
      error_5xx: 1,
      exhausted_until: null,
      blocked_until: '2026-01-01T00:00:00Z',
      blocked_reason: null,
      consecutive_failures: 0,
      last_error: null,
    });
  });

  it('replaces a non-object entry with an empty key state', () => {
    expect(normalizeKeyState('broken')).toEqual(emptyKeyState());
    expect(normalizeKeyState(null)).toEqual(emptyKeyState());
  });

  it('repairs a malformed usage snapshot', () => {
    const ks = normalizeKeyState({
      last_usage: {
        fiveHour: { limit: '100', used: 5, remainingRatio: 0.95, resetAt: 1 },
        weekly: 'x',
      },
    });
    expect(ks.last_usage).toEqual({
      fiveHour: { limit: null, used: 5, remaining: null, remainingRatio: 0.95, resetAt: null },
      weekly: null,
    });
    expect(normalizeKeyState({ last_usage: [] }).last_usage).toBeNull();
    expect(normalizeUsageSnapshot({ synthetic: 'yes' })).toEqual({
      fiveHour: null,
      weekly: null,
      synthetic: false,
    });
  });
});
