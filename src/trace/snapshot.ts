// A trace snapshot: the latest requests, per-key shares over the confidence window, recent failovers.
import { CONFIDENCE_WINDOW, rotationConfidence, type RotationConfidence } from './confidence.js';
import type { TraceRecord } from './record.js';

export interface TraceSnapshot {
  /** Newest last. */
  readonly recent: readonly TraceRecord[];
  readonly confidence: RotationConfidence;
  /** Requests that were served after trying other keys first, newest last. */
  readonly failovers: readonly TraceRecord[];
  readonly total: number;
  readonly errors: number;
  readonly malformed: number;
}

export function buildTraceSnapshot(
  records: readonly TraceRecord[],
  eligibleLabels: readonly string[],
  options: { recent?: number; malformed?: number } = {},
): TraceSnapshot {
  const recentCount = options.recent ?? 15;
  const window = records.slice(-CONFIDENCE_WINDOW);
  return {
    recent: records.slice(-recentCount),
    confidence: rotationConfidence(window, eligibleLabels),
    failovers: window
      .filter((r) => Array.isArray(r.failover_from) && r.failover_from.length > 0)
      .slice(-10),
    total: window.length,
    errors: window.filter(
      (r) => typeof r.status !== 'number' || r.status >= 400 || r.error_code !== null,
    ).length,
    malformed: options.malformed ?? 0,
  };
}
