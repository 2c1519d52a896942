import { describe, expect, it } from 'vitest';
import { keyHash } from '../auth/mask.js';
import { parseUtc } from '../state/schema.js';
import { syntheticUsage, syntheticUsagePayload } from './synthetic.js';
import { parseUsageBody } from './usage-parse.js';

const k = (apiKey: string) => ({ apiKey, keyHash: keyHash(apiKey) });
const now = Date.UTC(2026, 0, 5, 12, 34, 56);

describe('syntheticUsage', () => {
  it('is deterministic per key, marked synthetic, and differs between keys', () => {
    const a1 = syntheticUsage(k('sk-aaaaaaaaaaaaaaaa'), now);
    const a2 = syntheticUsage(k('sk-aaaaaaaaaaaaaaaa'), now);
    const b = syntheticUsage(k('sk-bbbbbbbbbbbbbbbb'), now);
    expect(a1).toEqual(a2);
    expect(a1.synthetic).toBe(true);
    expect(a1).not.toEqual(b);
  });

  it('stays within plausible ranges with resets in the future', () => {
    for (let i = 0; i < 50; i++) {
      const s = syntheticUsage(k(`sk-key-${i}-padding-padding`), now);
      expect(s.weekly?.remainingRatio).toBeGreaterThanOrEqual(0.35);
      expect(s.weekly?.remainingRatio).toBeLessThanOrEqual(0.95);
      expect(s.fiveHour?.remainingRatio).toBeGreaterThanOrEqual(0.25);
      const five = parseUtc(s.fiveHour?.resetAt) as number;
      expect(five).toBeGreaterThan(now);
      expect(five - now).toBeLessThanOrEqual(5 * 3_600_000);
      expect((parseUtc(s.weekly?.resetAt) as number) - now).toBeLessThanOrEqual(7 * 86_400_000);
    }
  });

  it('the payload form parses back to the same windows', () => {
    const key = k('sk-payload-key-123456');
    const parsed = parseUsageBody(syntheticUsagePayload(key, now));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const direct = syntheticUsage(key, now);
    expect(parsed.snapshot.fiveHour).toEqual(direct.fiveHour);
    expect(parsed.snapshot.weekly).toEqual(direct.weekly);
  });
});
