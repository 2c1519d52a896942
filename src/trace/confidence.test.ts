import { describe, expect, it } from 'vitest';
import { rotationConfidence } from './confidence.js';

const served = (...labels: (string | null)[]) => labels.map((key_label) => ({ key_label }));
const roundRobin = (n: number, keys: string[]) =>
  served(...Array.from({ length: n }, (_, i) => keys[i % keys.length]!));

describe('rotationConfidence', () => {
  it('scores a perfect round-robin 100', () => {
    const c = rotationConfidence(roundRobin(200, ['a', 'b', 'c', 'd']), ['a', 'b', 'c', 'd']);
    expect(c.confidence).toBe(100);
    expect(c.warn).toBe(false);
    expect(c.sample).toBe(200);
    expect(c.keys.map((k) => [k.label, k.count, k.share])).toEqual([
      ['a', 50, 25],
      ['b', 50, 25],
      ['c', 50, 25],
      ['d', 50, 25],
    ]);
  });

  it('scores round-robin 100 when the sample does not divide by the key count', () => {
    for (const n of [1, 2, 5, 7, 10, 13, 199, 200]) {
      const c = rotationConfidence(roundRobin(n, ['a', 'b', 'c']), ['a', 'b', 'c']);
      expect(c.confidence, `n=${n}`).toBe(100);
    }
    const c = rotationConfidence(roundRobin(10, ['a', 'b', 'c', 'd']), ['a', 'b', 'c', 'd']);
    expect(c.keys.map((k) => k.count)).toEqual([3, 3, 2, 2]);
    expect(c.confidence).toBe(100);
  });

  it('scores a skewed split by its largest deviation and warns below 95', () => {
    const c = rotationConfidence(served(...Array(120).fill('a'), ...Array(80).fill('b')), [
      'a',
      'b',
    ]);
    expect(c.confidence).toBeCloseTo(90);
    expect(c.maxDeviation).toBeCloseTo(10);
    expect(c.warn).toBe(true);
    const slight = rotationConfidence(served(...Array(104).fill('a'), ...Array(96).fill('b')), [
      'a',
      'b',
    ]);
    expect(slight.confidence).toBeCloseTo(98);
    expect(slight.warn).toBe(false);
  });

  it('scores a proxy stuck on one key low, counting eligible keys that served nothing', () => {
    const c = rotationConfidence(served(...Array(200).fill('a')), ['a', 'b', 'c']);
    expect(c.confidence).toBeCloseTo(100 / 3);
    expect(c.warn).toBe(true);
    expect(c.keys.find((k) => k.label === 'b')).toMatchObject({ count: 0, share: 0 });
    const two = rotationConfidence(served(...Array(50).fill('x')), ['x', 'y']);
    expect(two.confidence).toBeCloseTo(50);
  });

  it('counts a deviation of exactly one request', () => {
    // 3 of 4 on one key with two keys: share 75 vs 50 → 25 pp ≥ one request (25 pp).
    const c = rotationConfidence(served('a', 'a', 'a', 'b'), ['a', 'b']);
    expect(c.confidence).toBeCloseTo(75);
  });

  it('returns null confidence for an empty trace (or no eligible key served)', () => {
    const empty = rotationConfidence([], ['a', 'b']);
    expect(empty.confidence).toBeNull();
    expect(empty.warn).toBe(false);
    expect(empty.sample).toBe(0);
    expect(empty.keys.map((k) => k.count)).toEqual([0, 0]);
    expect(rotationConfidence(served(null, null), ['a']).confidence).toBeNull();
    expect(rotationConfidence(served('a'), []).confidence).toBeNull();
  });

  it('looks only at the last 200 records', () => {
    const old = served(...Array(500).fill('a'));
    const c = rotationConfidence([...old, ...roundRobin(200, ['a', 'b'])], ['a', 'b']);
    expect(c.considered).toBe(200);
    expect(c.confidence).toBe(100);
    expect(rotationConfidence(roundRobin(30, ['a', 'b']), ['a', 'b'], { window: 10 }).sample).toBe(
      10,
    );
  });

  it('lists keys no longer eligible without scoring them, and ignores unserved records', () => {
    const c = rotationConfidence(served('a', 'b', 'gone', 'a', 'b', null), ['a', 'b']);
    expect(c.confidence).toBe(100);
    expect(c.sample).toBe(4);
    expect(c.served).toBe(5);
    expect(c.keys.map((k) => [k.label, k.eligible, k.count])).toEqual([
      ['a', true, 2],
      ['b', true, 2],
      ['gone', false, 1],
    ]);
    expect(c.keys[2]!.share).toBeCloseTo(20);
  });
});
