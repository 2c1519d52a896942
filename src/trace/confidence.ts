// Rotation confidence: how evenly the last requests were spread over the keys that could have served them.
import type { TraceRecord } from './record.js';

export const CONFIDENCE_WINDOW = 200;
export const CONFIDENCE_WARN_BELOW = 95;

export interface KeyShare {
  readonly label: string;
  /** Requests this key served in the sample. */
  readonly count: number;
  /** Percent of the served requests in the window (0–100). */
  readonly share: number;
  /**
   * |share among eligible keys − even share| in percentage points, 0 when below one request's
   * share; always 0 for keys that are not eligible.
   */
  readonly deviation: number;
  /** In the eligible set (keys seen in the trace but no longer eligible are listed, not scored). */
  readonly eligible: boolean;
}

export interface RotationConfidence {
  /** 0–100, or null when no eligible key served anything in the window. */
  readonly confidence: number | null;
  /** confidence below the warn threshold. */
  readonly warn: boolean;
  /** Requests scored: records in the window served by an eligible key. */
  readonly sample: number;
  /** Records in the window served by any key. */
  readonly served: number;
  /** Records looked at (the last `window` records, including unserved and ineligible ones). */
  readonly considered: number;
  /** 100 / number of eligible keys. */
  readonly evenShare: number;
  /** Largest counted deviation (0 when every deviation was below one request's share). */
  readonly maxDeviation: number;
  /** Eligible keys in the given order, then other labels seen, busiest first. */
  readonly keys: readonly KeyShare[];
}

export interface ConfidenceOptions {
  readonly window?: number;
  readonly warnBelow?: number;
}

/**
 * confidence = 100 − the largest deviation (percentage points) of any eligible key's share from an
 * even share. Eligible keys that served nothing count (a proxy stuck on one key scores low), and a
 * deviation below one request's share (100 / sample) counts as none, so a perfect round-robin
 * scores 100 whatever the sample size.
 */
export function rotationConfidence(
  records: readonly Pick<TraceRecord, 'key_label'>[],
  eligibleLabels: readonly string[],
  options: ConfidenceOptions = {},
): RotationConfidence {
  const window = Math.max(1, options.window ?? CONFIDENCE_WINDOW);
  const warnBelow = options.warnBelow ?? CONFIDENCE_WARN_BELOW;
  const recent = records.length > window ? records.slice(records.length - window) : records;
  const eligible = [...new Set(eligibleLabels)];
  const eligibleSet = new Set(eligible);

  const counts = new Map<string, number>();
  for (const label of eligible) counts.set(label, 0);
  let sample = 0;
  let served = 0;
  for (const r of recent) {
    const label = r.key_label;
    if (label === null || label === undefined || label === '') continue;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    served++;
    if (eligibleSet.has(label)) sample++;
  }

  const evenShare = eligible.length > 0 ? 100 / eligible.length : 0;
  const oneRequest = sample > 0 ? 100 / sample : 0;
  let maxDeviation = 0;
  const keys: KeyShare[] = [];
  for (const label of eligible) {
    const count = counts.get(label) ?? 0;
    const share = sample > 0 ? (count / sample) * 100 : 0;
    const raw = Math.abs(share - evenShare);
    // Rounding guard: a deviation of exactly one request's share must count.
    const deviation = raw < oneRequest - 1e-9 ? 0 : raw;
    if (deviation > maxDeviation) maxDeviation = deviation;
    keys.push({
      label,
      count,
      share: served > 0 ? (count / served) * 100 : 0,
      deviation: sample > 0 ? deviation : 0,
      eligible: true,
    });
  }
  const others = [...counts.entries()]
    .filter(([label]) => !eligibleSet.has(label))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [label, count] of others) {
    keys.push({ label, count, share: (count / served) * 100, deviation: 0, eligible: false });
  }

  const confidence = sample > 0 ? Math.max(0, 100 - maxDeviation) : null;
  return {
    confidence,
    warn: confidence !== null && confidence < warnBelow,
    sample,
    served,
    considered: recent.length,
    evenShare,
    maxDeviation: sample > 0 ? maxDeviation : 0,
    keys,
  };
}
