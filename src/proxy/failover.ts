// exchange: one client request against the pool — pick a key, send, classify, retry the same key or fail over, until an answer can be relayed.
import { textForClassification } from './body.js';
import type { Cancellation } from './cancel.js';
import {
  CLASSIFY_BODY_LIMIT,
  classifyUpstreamResponse,
  needsBodyForClassification,
  type UpstreamOutcome,
} from './classify.js';
import type { Coordination } from '../state/coordination.js';
import type { ProxyContext } from './context.js';
import type { ClientHeaders } from './headers.js';
import { upstreamHeaders } from './headers.js';
import type { UpstreamErrorKind } from './metrics.js';
import {
  describeSkip,
  isLowOnUsage,
  isTemporary,
  pickKey,
  resolveActiveIndex,
  unavailability,
  type AvailabilityPolicy,
  type Skip,
} from './select.js';
import { simulateUpstream } from './simulate.js';
import { upstreamErrorKind, type UpstreamReply } from './upstream.js';

export interface ExchangeRequest {
  readonly method: string;
  /** Path below the base path ('' or '/…'). */
  readonly rest: string;
  /** '' or '?…' */
  readonly query: string;
  readonly headers: ClientHeaders;
  readonly body: Buffer | null;
  /** Aborted when the client goes away. */
  readonly cancel: Cancellation;
  /** The clock's time when the request arrived (the first key is picked and tried at this time). */
  readonly atMs: number;
}

interface Tally {
  attempts: number;
  failoverFrom: string[];
}

export type ExchangeResult =
  /** An answer to relay (bytes read for classification are still held in its body). */
  | {
      readonly kind: 'reply';
      readonly keyIndex: number;
      readonly reply: UpstreamReply;
      readonly outcome: UpstreamOutcome;
      readonly attempts: number;
      readonly failoverFrom: string[];
    }
  /** No key could serve: answer 429 (only cooling-down keys, Retry-After set) or 503. */
  | {
      readonly kind: 'unavailable';
      readonly status: 429 | 503;
      readonly retryAfterMs: number | null;
      readonly message: string;
      readonly attempts: number;
      readonly failoverFrom: string[];
    }
  /** The client left before an answer was chosen. */
  | {
      readonly kind: 'aborted';
      readonly keyIndex: number | null;
      readonly attempts: number;
      readonly failoverFrom: string[];
    };

/** How one key's turn ended when it produced no answer to relay. */
type KeyFailure = { readonly kind: 'failed'; readonly skip: Skip } | { readonly kind: 'aborted' };

type KeyTurn =
  | {
      readonly kind: 'reply';
      readonly reply: UpstreamReply;
      readonly outcome: UpstreamOutcome;
    }
  | KeyFailure;

const ABORTED: KeyFailure = { kind: 'aborted' };
/** After this many network errors/5xx in a row a key rests for COOLDOWN_AFTER_FAILURES_MS. */
export const FAILURES_BEFORE_COOLDOWN = 3;
export const COOLDOWN_AFTER_FAILURES_MS = 60_000;

/** One request's key selection: which keys were tried, why others were skipped, the rotation pointer. */
class Selection {
  /** Bit i set = key i tried (pools up to 31 keys); larger pools use `triedList`. */
  private triedMask = 0;
  private readonly triedList: Uint8Array | null;
  skips: (Skip | undefined)[] | null = null;
  now: number;
  private readonly auto: boolean;
  private readonly activeIndex: number;
  private readonly policy: AvailabilityPolicy;
  private readonly usableFn = (i: number): boolean => this.usable(i);
  /** Nearly used-up keys go last (KMI_ROTATE_INCLUDE_WARN=0); in manual mode never the active key itself. */
  private readonly lowFn: ((i: number) => boolean) | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    now: number,
  ) {
    const { sync } = ctx;
    const n = ctx.keys.length;
    this.triedList = n > 31 ? new Uint8Array(n) : null;
    this.auto = sync.autoRotate;
    this.activeIndex = this.auto
      ? 0
      : resolveActiveIndex(ctx.labels, sync.activeLabel, sync.activeIndex);
    this.policy = ctx.usage.policy;
    this.now = now;
    this.lowFn = ctx.config.rotateIncludeWarn
      ? undefined
      : (i) =>
          (this.auto || i !== this.activeIndex) && isLowOnUsage(ctx.sync.runtimes[i]!, this.now);
  }

  private tried(i: number): boolean {
    return this.triedList === null ? (this.triedMask & (1 << i)) !== 0 : this.triedList[i] === 1;
  }

  private skip(i: number, skip: Skip): void {
    (this.skips ??= [])[i] = skip;
  }

  /** Can key `i` serve now (not tried, not blocked/exhausted/disabled, under its per-key limit)? */
  usable(i: number): boolean {
    if (this.tried(i)) return false;
    const { ctx, now } = this;
    const skip = unavailability(
      ctx.sync.runtimes[i]!,
      ctx.keys[i]!.disabled,
      ctx.targets[i] !== null,
      now,
      this.policy,
    );
    if (skip !== null) {
      this.skip(i, skip);
      return false;
    }
    const limit = ctx.keyLimits?.[i];
    if (limit !== undefined) {
      const wait = limit.waitMs(now);
      if (wait > 0) {
        this.skip(i, {
          label: ctx.labels[i]!,
          reason: 'rate_limited',
          detail: null,
          untilMs: now + wait,
        });
        return false;
      }
    }
    return true;
  }

  /** The next key to try (moving the round-robin pointer in auto mode), or -1. */
  next(): number {
    const { ctx } = this;
    const n = ctx.keys.length;
    const start = this.auto ? ctx.sync.rotationIndex : this.activeIndex;
    const i = pickKey(n, start, this.usableFn, this.lowFn);
    if (i >= 0) {
      this.mark(i);
      ctx.keyLimits?.[i]?.take(this.now);
      if (this.auto) ctx.sync.setRotationIndex((i + 1) % n);
    }
    return i;
  }

  /** Shared mode: the candidate order fixed by the first pick (the keys after it are the failover order). */
  private order: number[] | null = null;

  private mark(i: number): void {
    if (this.triedList === null) this.triedMask |= 1 << i;
    else this.triedList[i] = 1;
  }

  /**
   * `next()` for proxies sharing state (Redis): the round-robin position comes from the shared
   * counter over the keys eligible now (auto mode), and per-key limits are the shared windows.
   */
  async nextShared(shared: Coordination): Promise<number> {
    const { ctx } = this;
    const n = ctx.keys.length;
    if (this.order === null) {
      let start = this.activeIndex;
      if (this.auto) {
        const eligible: number[] = [];
        for (let j = 0; j < n; j++) if (this.usable(j)) eligible.push(j);
        if (eligible.length === 0) return -1;
        const k = await shared.nextRoundRobin(eligible.length);
        start = eligible[k] ?? eligible[0]!;
        ctx.sync.setRotationIndex((start + 1) % n);
      }
      const order: number[] = [];
      const low: number[] = [];
      for (let k = 0; k < n; k++) {
        const j = (start + k) % n;
        if (this.lowFn?.(j) === true) low.push(j);
        else order.push(j);
      }
      this.order = order.concat(low);
    }
    const { rpsPerKey, rpmPerKey } = this;
    for (const j of this.order) {
      if (!this.usable(j)) continue;
      if (rpsPerKey > 0 || rpmPerKey > 0) {
        const wait = await shared.tryAcquireRate(
          { label: ctx.labels[j]! },
          { rps: rpsPerKey, rpm: rpmPerKey },
          this.now,
        );
        if (wait > 0) {
          this.skip(j, {
            label: ctx.labels[j]!,
            reason: 'rate_limited',
            detail: null,
            untilMs: this.now + wait,
          });
          this.mark(j);
          continue;
        }
      }
      this.mark(j);
      return j;
    }
    return -1;
  }

  private get rpsPerKey(): number {
    return this.ctx.config.proxyMaxRpsPerKey;
  }
  private get rpmPerKey(): number {
    return this.ctx.config.proxyMaxRpmPerKey;
  }

  /** Mark every key that could still have served as "not tried: failover limit". */
  markFailoverLimit(): void {
    const { ctx } = this;
    for (let j = 0; j < ctx.keys.length; j++) {
      if (this.usable(j)) {
        this.skip(j, {
          label: ctx.labels[j]!,
          reason: 'failover_limit',
          detail: null,
          untilMs: null,
        });
      }
    }
  }
}

export async function exchange(ctx: ProxyContext, req: ExchangeRequest): Promise<ExchangeResult> {
  const tally: Tally = { attempts: 0, failoverFrom: NO_FAILOVER };
  const selection = new Selection(ctx, req.atMs);
  const shared = ctx.shared;
  let i = shared === null ? selection.next() : await selection.nextShared(shared);
  let switches = 0;
  while (i >= 0) {
    const turn = await keyTurn(ctx, i, req, tally, selection.now);
    if (turn.kind === 'reply') {
      return {
        kind: 'reply',
        reply: turn.reply,
        outcome: turn.outcome,
        keyIndex: i,
        attempts: tally.attempts,
        failoverFrom: tally.failoverFrom,
      };
    }
    if (turn.kind === 'aborted') {
      return {
        kind: 'aborted',
        keyIndex: i,
        attempts: tally.attempts,
        failoverFrom: tally.failoverFrom,
      };
    }
    (selection.skips ??= [])[i] = turn.skip;
    if (tally.failoverFrom === NO_FAILOVER) tally.failoverFrom = [];
    tally.failoverFrom.push(ctx.labels[i]!);
    selection.now = ctx.clock.now();
    if (switches >= ctx.config.proxyFailoverMax) {
      selection.markFailoverLimit();
      break;
    }
    const from = i;
    i = shared === null ? selection.next() : await selection.nextShared(shared);
    if (i >= 0) {
      switches++;
      ctx.metrics.failover();
      ctx.logger.info('proxy.failover', {
        from: ctx.labels[from]!,
        to: ctx.labels[i]!,
        reason: describeSkip(turn.skip),
      });
    }
  }
  return unavailable(ctx, selection.skips ?? [], tally, selection.now);
}

/** Shared by every request that needed no failover (never mutated: replaced before the first push). */
const NO_FAILOVER: string[] = [];

function unavailable(
  ctx: ProxyContext,
  skips: readonly (Skip | undefined)[],
  tally: Tally,
  now: number,
): ExchangeResult {
  const list = skips.filter((s): s is Skip => s !== undefined);
  if (ctx.keys.length === 0) {
    return {
      kind: 'unavailable',
      status: 503,
      retryAfterMs: null,
      message: 'No API keys are configured in the kmi proxy.',
      ...tally,
    };
  }
  // 429 when every key that could still come back by itself is only cooling down or rate limited.
  const recoverable = list.filter(
    (s) => s.reason !== 'disabled' && s.reason !== 'upstream_not_allowed' && s.reason !== 'blocked',
  );
  const onlyCooling = recoverable.length > 0 && recoverable.every((s) => isTemporary(s.reason));
  let retryAfterMs: number | null = null;
  if (onlyCooling) {
    for (const s of recoverable) {
      if (s.untilMs !== null)
        retryAfterMs = Math.min(retryAfterMs ?? Number.POSITIVE_INFINITY, s.untilMs - now);
    }
    retryAfterMs = Math.max(1000, retryAfterMs ?? ctx.config.rotationCooldownSeconds * 1000);
  }
  const message = `No API key could serve this request: ${list.map(describeSkip).join('; ')}.`;
  return {
    kind: 'unavailable',
    status: onlyCooling ? 429 : 503,
    retryAfterMs,
    message,
    attempts: tally.attempts,
    failoverFrom: tally.failoverFrom,
  };
}

/**
 * Send the request with key `i`, retrying the same key after network errors/5xx per
 * KMI_PROXY_RETRY_MAX. `startMs` is the time of the first attempt (the selection's clock reading).
 */
async function keyTurn(
  ctx: ProxyContext,
  i: number,
  req: ExchangeRequest,
  tally: Tally,
  startMs: number,
): Promise<KeyTurn> {
  const { sync, config, metrics } = ctx;
  const key = ctx.keys[i]!;
  const label = key.label;
  for (let retry = 0; ; retry++) {
    tally.attempts++;
    const now = retry === 0 ? startMs : ctx.clock.now();
    sync.recordAttempt(i, now);
    let reply: UpstreamReply | null = null;
    let failure: { kind: UpstreamErrorKind; detail: string } | null = null;
    try {
      reply = await send(ctx, i, req);
    } catch (err) {
      if (req.cancel.aborted) return ABORTED;
      const kind = upstreamErrorKind(err);
      failure = {
        kind,
        detail:
          kind === 'timeout' ? 'timeout waiting for upstream headers' : `network error (${kind})`,
      };
    }
    if (reply !== null) {
      const turn = needsBodyForClassification(reply.status)
        ? await judgeWithBody(ctx, i, reply, req, now)
        : judge(ctx, i, reply, null, now);
      if (turn !== 'retryable') return turn;
      failure = { kind: 'status_5xx', detail: `upstream ${reply.status}` };
    }
    const { kind, detail } = failure ?? { kind: 'other' as const, detail: 'network error' };
    // Network error, timeout or 5xx: counted; a streak of them rests the key.
    metrics.upstreamError(label, kind);
    sync.countError(i, 'error_5xx');
    const streak = sync.recordFailure(i);
    if (streak >= FAILURES_BEFORE_COOLDOWN) {
      const until = ctx.clock.now() + COOLDOWN_AFTER_FAILURES_MS;
      sync.exhaust(i, until);
      sync.recordSuccess(i); // the streak is spent on this cooldown
      ctx.logger.warn('proxy.key_cooldown', {
        label,
        reason: 'consecutive_failures',
        failures: streak,
      });
      return {
        kind: 'failed',
        skip: {
          label,
          reason: 'exhausted',
          detail: `${streak} upstream errors in a row`,
          untilMs: until,
        },
      };
    }
    if (retry >= config.proxyRetryMax) {
      return { kind: 'failed', skip: { label, reason: 'upstream_error', detail, untilMs: null } };
    }
    const base = config.proxyRetryBaseMs * 2 ** retry;
    const delay = Math.round(base * (0.75 + 0.5 * ctx.random()));
    try {
      await ctx.sleep(delay, req.cancel);
    } catch {
      return ABORTED;
    }
    if (req.cancel.aborted) return ABORTED;
  }
}

function send(
  ctx: ProxyContext,
  i: number,
  req: ExchangeRequest,
): UpstreamReply | Promise<UpstreamReply> {
  const key = ctx.keys[i]!;
  if (ctx.simulate !== null) {
    return simulateUpstream(
      { method: req.method, rest: req.rest, body: req.body, label: key.label },
      ctx.simulate,
      ctx.clock.now(),
    );
  }
  const target = ctx.targets[i]!;
  return ctx.pools.request(target, {
    method: req.method,
    path: `${target.pathPrefix}${req.rest}${req.query}` || '/',
    headers: upstreamHeaders(req.headers, key.apiKey, ctx.bearers[i]),
    body: req.body,
    cancel: req.cancel,
  });
}

/** Read the bounded error-body prefix a 400/403 needs, then judge. */
async function judgeWithBody(
  ctx: ProxyContext,
  i: number,
  reply: UpstreamReply,
  req: ExchangeRequest,
  now: number,
): Promise<KeyTurn | 'retryable'> {
  let text: string;
  try {
    const { prefix } = await reply.body.readPrefix(CLASSIFY_BODY_LIMIT);
    text = textForClassification(prefix, reply.headers['content-encoding']);
  } catch {
    if (req.cancel.aborted) return ABORTED;
    reply.body.discard();
    return 'retryable';
  }
  return judge(ctx, i, reply, text, now);
}

/** Classify an answer and apply what it means to the key; 'retryable' for 5xx. */
function judge(
  ctx: ProxyContext,
  i: number,
  reply: UpstreamReply,
  text: string | null,
  now: number,
): KeyTurn | 'retryable' {
  const { sync, config } = ctx;
  const label = ctx.labels[i] as string;
  const status = reply.status;
  const outcome = classifyUpstreamResponse(status, reply.headers, text, now);
  switch (outcome.kind) {
    case 'success':
      sync.recordSuccess(i);
      return { kind: 'reply', reply, outcome };
    case 'client_error':
      return { kind: 'reply', reply, outcome };
    case 'forbidden':
      sync.countError(i, 'error_403');
      return { kind: 'reply', reply, outcome };
    case 'server_error':
      reply.body.discard();
      return 'retryable';
  }
  reply.body.discard();
  switch (outcome.kind) {
    case 'auth':
      sync.countError(i, 'error_401');
      sync.block(i, 'auth', now, null);
      ctx.logger.warn('proxy.key_blocked', { label, reason: 'auth', status });
      return {
        kind: 'failed',
        skip: { label, reason: 'blocked', detail: `auth, upstream ${status}`, untilMs: null },
      };
    case 'payment': {
      if (status === 403) sync.countError(i, 'error_403');
      const until = config.paymentBlockSeconds > 0 ? now + config.paymentBlockSeconds * 1000 : null;
      sync.block(i, 'payment', now, until);
      ctx.logger.warn('proxy.key_blocked', { label, reason: 'payment', status });
      return {
        kind: 'failed',
        skip: { label, reason: 'blocked', detail: `payment, upstream ${status}`, untilMs: until },
      };
    }
    case 'quota': {
      sync.countError(i, 'error_403');
      const until = outcome.resetAtMs ?? now + config.rotationCooldownSeconds * 1000;
      sync.exhaust(i, until);
      ctx.logger.info('proxy.key_exhausted', { label, status, until_ms: until });
      return {
        kind: 'failed',
        skip: { label, reason: 'exhausted', detail: `quota, upstream ${status}`, untilMs: until },
      };
    }
    case 'rate_limited': {
      sync.countError(i, 'error_429');
      const cooldownMs = config.rotationCooldownSeconds * 1000;
      const ms = Math.min(outcome.retryAfterMs ?? cooldownMs, cooldownMs);
      const until = now + ms;
      sync.exhaust(i, until);
      ctx.logger.info('proxy.key_exhausted', { label, status, until_ms: until });
      return {
        kind: 'failed',
        skip: { label, reason: 'exhausted', detail: `upstream ${status}`, untilMs: until },
      };
    }
  }
}
