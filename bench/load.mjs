// Bench load generator: keep-alive undici pools measuring latency, throughput, SSE time-to-first-byte and aborts.
import { once } from 'node:events';
import { Pool } from 'undici';

const CHAT_BODY = JSON.stringify({
  model: 'kimi-for-coding',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Summarise the benchmark results in one short line please' },
  ],
});

const STREAM_BODY = JSON.stringify({
  model: 'kimi-for-coding',
  stream: true,
  messages: [{ role: 'user', content: 'Stream a short answer' }],
});

/** A long, slow stream (about 30 s) so a leaked upstream request stays visible. */
const SLOW_STREAM_BODY = JSON.stringify({
  model: 'kimi-for-coding',
  stream: true,
  bench: { chunks: 600, delayMs: 50 },
  messages: [{ role: 'user', content: 'Stream a long answer' }],
});

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

function summary(samples, errors) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    errors,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean,
  };
}

function pool(origin, connections) {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
  });
}

function request(p, target, body, signal) {
  return p.request({
    path: target.path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body,
    ...(signal ? { signal } : {}),
  });
}

/** One request at a time on one keep-alive connection: latency percentiles in ms. */
export async function sequentialLatency(target, { count, warmup }) {
  const p = pool(target.origin, 1);
  const samples = [];
  let errors = 0;
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t0 = nowMs();
      try {
        const res = await request(p, target, CHAT_BODY);
        await res.body.text();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
        continue;
      }
      if (i >= warmup) samples.push(nowMs() - t0);
    }
  } finally {
    await p.close();
  }
  return summary(samples, errors);
}

/** `concurrency` workers in a closed loop for `durationMs`: completed requests per second. */
export async function throughput(target, { concurrency, durationMs, warmupMs = 300 }) {
  const p = pool(target.origin, concurrency);
  let ok = 0;
  let errors = 0;
  let counting = false;
  const start = nowMs();
  const countFrom = start + warmupMs;
  const end = countFrom + durationMs;
  const worker = async () => {
    while (nowMs() < end) {
      try {
        const res = await request(p, target, CHAT_BODY);
        await res.body.text();
        if (!counting) counting = nowMs() >= countFrom;
        if (counting && nowMs() <= end) {
          if (res.statusCode === 200) ok++;
          else errors++;
        }
      } catch {
        if (counting) errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await p.close();
  }
  return { rps: ok / (durationMs / 1000), ok, errors };
}

/** Sequential streaming requests: time from sending to the first body byte, and to the end. */
export async function sseTtfb(target, { count, warmup }) {
  const p = pool(target.origin, 1);
  const ttfb = [];
  const total = [];
  let errors = 0;
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t0 = nowMs();
      try {
        const res = await request(p, target, STREAM_BODY);
        let first = NaN;
        res.body.once('data', () => {
          first = nowMs() - t0;
        });
        res.body.resume();
        await once(res.body, 'end');
        if (res.statusCode !== 200 || Number.isNaN(first)) {
          errors++;
          continue;
        }
        if (i >= warmup) {
          ttfb.push(first);
          total.push(nowMs() - t0);
        }
      } catch {
        errors++;
      }
    }
  } finally {
    await p.close();
  }
  return { ttfb: summary(ttfb, errors), total: summary(total, 0) };
}

/**
 * `count` slow streams, `concurrency` at a time: each is aborted by the client as soon as its first
 * chunk arrives. Returns how many really were aborted mid-stream.
 */
export async function midStreamAborts(target, { count, concurrency }) {
  const p = pool(target.origin, concurrency);
  let aborted = 0;
  let errors = 0;
  let started = 0;
  const one = async () => {
    const ac = new AbortController();
    try {
      const res = await request(p, target, SLOW_STREAM_BODY, ac.signal);
      res.body.on('error', () => {});
      if (res.statusCode !== 200) {
        errors++;
        ac.abort();
        return;
      }
      await once(res.body, 'data');
      ac.abort();
      aborted++;
    } catch {
      errors++;
      ac.abort();
    }
  };
  const worker = async () => {
    while (started < count) {
      started++;
      await one();
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await p.destroy().catch(() => {});
  }
  return { aborted, errors };
}

/** A few plain requests: does the target still answer 200? */
export async function stillAnswers(target, count = 20) {
  const p = pool(target.origin, 4);
  let ok = 0;
  try {
    await Promise.all(
      Array.from({ length: count }, async () => {
        try {
          const res = await request(p, target, CHAT_BODY, AbortSignal.timeout(5000));
          await res.body.text();
          if (res.statusCode === 200) ok++;
        } catch {
          // counted as not ok
        }
      }),
    );
  } finally {
    await p.close();
  }
  return { ok, of: count };
}
