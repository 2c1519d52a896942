/// <reference lib="dom" />
// The dashboard page: asks for the proxy token when needed, reads the live feed with fetch streaming, renders keys, traffic and actions.
import {
  clockOfTs,
  EventStreamParser,
  formatAgo,
  formatCount,
  formatCountdown,
  formatDuration,
  formatLatency,
  formatPct,
  RateWindow,
  statusClass,
} from './format.js';
import type {
  ActionReply,
  FeedRecord,
  HelloEvent,
  KeyView,
  Quota,
  RequestsEvent,
  Snapshot,
  SnapshotEvent,
} from './types.js';

const TOKEN_KEY = 'kmi-proxy-token';
const FEED_ROWS = 100;
const RATE_SECONDS = 900;
/** Screen readers hear a summary of the feed at most this often, not every request. */
const ANNOUNCE_MS = 15_000;
const SPARK_W = 900;
const SPARK_H = 80;

const admin =
  document.querySelector<HTMLMetaElement>('meta[name="kmi-admin"]')?.content.replace(/\/$/, '') ??
  '';

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`missing #${id}`);
  return found as T;
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== '') node.className = className;
  if (text !== '') node.textContent = text;
  return node;
}

/** Set text only when it changed, so nothing reflows or is re-announced needlessly. */
function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

function setClass(node: Element, className: string): void {
  if (node.className !== className) node.className = className;
}

// ---- token ----------------------------------------------------------------------------------

let token: string | null = sessionStorage.getItem(TOKEN_KEY);

function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return token === null ? extra : { ...extra, 'x-kmi-proxy-token': token };
}

let asking: Promise<void> | null = null;

/** Show the token dialog until a token is entered; `rejected` says the last one did not work. */
function askToken(rejected: boolean): Promise<void> {
  asking ??= new Promise<void>((resolve) => {
    const dialog = byId<HTMLDialogElement>('token-dialog');
    const form = byId<HTMLFormElement>('token-form');
    const input = byId<HTMLInputElement>('token-input');
    setText(
      byId('token-error'),
      rejected ? 'That token was not accepted. Check KMI_PROXY_TOKEN and try again.' : '',
    );
    input.value = '';
    const submit = (event: SubmitEvent): void => {
      event.preventDefault();
      const value = input.value.trim();
      if (value === '') return;
      token = value;
      sessionStorage.setItem(TOKEN_KEY, value);
      form.removeEventListener('submit', submit);
      dialog.close();
      asking = null;
      resolve();
    };
    form.addEventListener('submit', submit);
    // Escape must not leave the page without a way back to the dialog.
    dialog.addEventListener('cancel', (event) => event.preventDefault(), { once: true });
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
  return asking;
}

// ---- clock ----------------------------------------------------------------------------------

/** Server time minus ours, so countdowns match the proxy's clock. */
let clockOffset = 0;
const serverNow = (): number => Date.now() + clockOffset;

// ---- header and warnings --------------------------------------------------------------------

let current: Snapshot | null = null;

function renderHeader(s: Snapshot): void {
  const mode = byId('mode');
  const dry = s.dry_run;
  setText(mode, dry ? 'DRY RUN' : 'LIVE');
  setClass(mode, `mode ${dry ? 'mode-dry' : 'mode-live'}`);
  mode.setAttribute(
    'aria-label',
    dry ? 'Mode: dry run, the upstream is never called' : 'Mode: live, requests go to the upstream',
  );
  document.title = `kmi · ${dry ? 'DRY RUN' : 'LIVE'}`;
  setText(byId('upstream'), dry ? `${s.upstream} (simulated)` : s.upstream);
  byId('upstream').title = s.upstream;
  setText(byId('version'), `${s.version} · pid ${s.pid}`);
  setText(byId('failovers'), formatCount(s.failovers));
  setText(byId('eligible'), `${s.eligible_keys} of ${s.keys.length} can serve`);

  const auto = byId<HTMLButtonElement>('auto-rotate');
  auto.setAttribute('aria-checked', String(s.auto_rotate));
  let hint: string;
  if (s.auto_rotate) hint = 'on: requests rotate over every key that can serve';
  else if (!s.auto_rotate_allowed) hint = 'off · turning it on needs KMI_AUTO_ROTATE_ALLOWED=1';
  else hint = `off: requests go to ${s.active_label ?? 'the current key'}`;
  setText(byId('auto-hint'), hint);

  const box = byId('warnings');
  const items =
    s.warnings.length > 0
      ? s.warnings.map((w) => ({ cls: `warning warning-${w.level}`, text: w.text }))
      : [
          {
            cls: 'warning warning-none',
            text: `All clear: ${s.eligible_keys} of ${s.keys.length} keys can serve.`,
          },
        ];
  const signature = items.map((i) => `${i.cls}|${i.text}`).join('\n');
  if (box.dataset.signature !== signature) {
    box.dataset.signature = signature;
    box.replaceChildren(...items.map((i) => make('p', i.cls, i.text)));
  }
}

function renderClocks(): void {
  const s = current;
  if (s === null) return;
  const now = serverNow();
  setText(byId('uptime'), formatDuration(now - s.started_at));
  for (const row of rows.values()) updateRowClocks(row, now);
}

// ---- keys -----------------------------------------------------------------------------------

interface QuotaCell {
  readonly root: HTMLElement;
  readonly bar: HTMLElement;
  readonly fill: HTMLElement;
  readonly pct: HTMLElement;
  readonly reset: HTMLElement;
}

interface KeyRow {
  readonly tr: HTMLTableRowElement;
  readonly label: HTMLElement;
  readonly tag: HTMLElement;
  readonly masked: HTMLElement;
  readonly badge: HTMLElement;
  readonly reason: HTMLElement;
  readonly until: HTMLElement;
  readonly five: QuotaCell;
  readonly weekly: QuotaCell;
  readonly requests: HTMLElement;
  readonly errors: HTMLElement;
  readonly lastUsed: HTMLElement;
  readonly unblock: HTMLButtonElement;
  key: KeyView;
  busy: boolean;
}

const rows = new Map<string, KeyRow>();

function cell(label: string, className = ''): HTMLTableCellElement {
  const td = make('td', className);
  td.dataset.label = label;
  return td;
}

function quotaCell(name: string): QuotaCell {
  const root = make('div', 'quota');
  const bar = make('div', 'bar');
  bar.setAttribute('role', 'meter');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  bar.setAttribute('aria-label', `${name} quota left`);
  const fill = make('span', 'fill');
  bar.append(fill);
  const text = make('div', 'quota-text');
  const pct = make('span', 'num pct');
  const reset = make('span', 'muted reset');
  text.append(pct, reset);
  root.append(bar, text);
  return { root, bar, fill, pct, reset };
}

function createRow(key: KeyView): KeyRow {
  const tr = make('tr');
  tr.dataset.key = key.label;

  const keyTd = cell('Key', 'key-cell');
  const labelLine = make('div', 'label-line');
  const label = make('span', 'label', key.label);
  const tag = make('span', 'tag');
  labelLine.append(label, tag);
  const masked = make('div', 'masked mono', key.masked_key);
  keyTd.append(labelLine, masked);

  const statusTd = cell('Status', 'status-cell');
  const badge = make('span', 'badge');
  const reason = make('div', 'reason');
  const until = make('div', 'until muted num');
  statusTd.append(badge, reason, until);

  const five = quotaCell('5-hour');
  const fiveTd = cell('5-hour');
  fiveTd.append(five.root);
  const weekly = quotaCell('Weekly');
  const weeklyTd = cell('Weekly');
  weeklyTd.append(weekly.root);

  const requestsTd = cell('Requests', 'right num');
  const requests = make('span');
  requestsTd.append(requests);
  const errorsTd = cell('Errors', 'right num');
  const errors = make('span');
  errorsTd.append(errors);
  const usedTd = cell('Last used', 'num');
  const lastUsed = make('span');
  usedTd.append(lastUsed);

  const actionTd = cell('', 'action-cell');
  const unblock = make('button', 'button', 'Unblock');
  unblock.type = 'button';
  unblock.dataset.action = 'unblock';
  unblock.setAttribute('aria-label', `Unblock ${key.label}`);
  actionTd.append(unblock);

  tr.append(keyTd, statusTd, fiveTd, weeklyTd, requestsTd, errorsTd, usedTd, actionTd);
  const row: KeyRow = {
    tr,
    label,
    tag,
    masked,
    badge,
    reason,
    until,
    five,
    weekly,
    requests,
    errors,
    lastUsed,
    unblock,
    key,
    busy: false,
  };
  unblock.addEventListener('click', () => void unblockKey(row));
  return row;
}

function renderQuota(q: QuotaCell, quota: Quota | null, synthetic: boolean): void {
  const pct = quota?.remaining_pct ?? null;
  const level = pct === null ? 'unknown' : pct <= 0 ? 'empty' : pct < 20 ? 'low' : 'ok';
  setClass(q.root, `quota quota-${level}`);
  q.fill.style.width = `${pct === null ? 0 : Math.max(0, Math.min(100, pct))}%`;
  if (pct === null) q.bar.removeAttribute('aria-valuenow');
  else q.bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  setText(q.pct, pct === null ? 'unknown' : `${formatPct(pct)} left${synthetic ? '*' : ''}`);
  q.root.title = synthetic ? 'Synthetic usage (dry run)' : '';
}

function updateRowClocks(row: KeyRow, now: number): void {
  const k = row.key;
  const reset = (q: Quota | null): string =>
    q?.reset_at != null ? `resets ${formatCountdown(q.reset_at, now)}` : '';
  setText(row.five.reset, reset(k.five_hour));
  setText(row.weekly.reset, reset(k.weekly));
  let until = '';
  if (k.skip !== null) {
    if (k.available_at !== null) until = `serves again ${formatCountdown(k.available_at, now)}`;
    else if (k.blocked_reason !== null) until = 'until unblocked or rechecked';
  }
  setText(row.until, until);
  setText(row.lastUsed, formatAgo(k.last_used, now));
}

function renderRow(row: KeyRow, k: KeyView): void {
  row.key = k;
  setText(row.masked, k.masked_key);
  const tag = k.active ? 'current' : k.disabled ? 'disabled' : '';
  setText(row.tag, tag);
  setClass(row.tag, tag === '' ? 'tag' : `tag tag-${tag}`);
  const badgeText =
    k.health === 'blocked' && k.blocked_reason ? `blocked · ${k.blocked_reason}` : k.health;
  setText(row.badge, badgeText);
  setClass(row.badge, `badge badge-${k.health}`);
  setText(row.reason, k.reason);
  row.reason.title = k.skip_text ?? k.reason;
  setClass(row.tr, `row-${k.health}${k.active ? ' row-active' : ''}`);
  renderQuota(row.five, k.five_hour, k.usage_synthetic);
  renderQuota(row.weekly, k.weekly, k.usage_synthetic);
  setText(row.requests, formatCount(k.requests));
  setText(row.errors, formatCount(k.errors));
  row.errors.title = `401: ${k.error_401} · 403: ${k.error_403} · 429: ${k.error_429} · 5xx: ${k.error_5xx}${
    k.consecutive_failures > 0 ? ` · ${k.consecutive_failures} failures in a row` : ''
  }`;
  setClass(row.errors, k.errors > 0 ? 'has-errors' : '');
  if (!row.busy) {
    row.unblock.disabled = !k.can_unblock;
    row.unblock.title = k.can_unblock
      ? `Lift the block or cooldown of ${k.label} (as kmi unblock does)`
      : `${k.label} is not blocked or cooling down`;
  }
  updateRowClocks(row, serverNow());
}

function renderKeys(s: Snapshot): void {
  const body = byId('key-rows');
  const seen = new Set<string>();
  let before: ChildNode | null = body.firstChild;
  for (const k of s.keys) {
    seen.add(k.label);
    let row = rows.get(k.label);
    if (row === undefined) {
      row = createRow(k);
      rows.set(k.label, row);
    }
    renderRow(row, k);
    if (row.tr !== before) body.insertBefore(row.tr, before);
    before = row.tr.nextSibling;
  }
  for (const [label, row] of rows) {
    if (!seen.has(label)) {
      row.tr.remove();
      rows.delete(label);
    }
  }
}

// ---- distribution ---------------------------------------------------------------------------

interface DistRow {
  readonly li: HTMLLIElement;
  readonly name: HTMLElement;
  readonly fill: HTMLElement;
  readonly value: HTMLElement;
}

const distRows = new Map<string, DistRow>();

function renderDistribution(s: Snapshot): void {
  const d = s.distribution;
  const value = byId('confidence');
  const note = byId('confidence-note');
  if (!s.auto_rotate) {
    setText(value, d.confidence === null ? '—' : formatPct(d.confidence, 1));
    setClass(value, 'confidence-value num muted');
    setText(note, 'auto-rotate is off: requests go to the current key');
  } else {
    setText(value, d.confidence === null ? '—' : formatPct(d.confidence, 1));
    setClass(
      value,
      `confidence-value num${d.warn ? ' is-warn' : d.confidence !== null ? ' is-ok' : ''}`,
    );
    setText(
      note,
      d.sample === 0
        ? 'no requests yet'
        : `${d.sample} of the last ${d.window} requests${d.warn ? ' · below 95%' : ''}`,
    );
  }
  const list = byId('dist');
  list.style.setProperty('--even', `${d.even_share}%`);
  const seen = new Set<string>();
  let before: ChildNode | null = list.firstChild;
  const max = Math.max(1, ...d.keys.map((k) => k.share));
  for (const k of d.keys) {
    seen.add(k.label);
    let row = distRows.get(k.label);
    if (row === undefined) {
      const li = make('li', 'dist-row');
      const name = make('span', 'dist-name', k.label);
      const bar = make('span', 'dist-bar');
      const fill = make('span', 'dist-fill');
      bar.append(fill);
      const val = make('span', 'dist-value num');
      li.append(name, bar, val);
      row = { li, name, fill, value: val };
      distRows.set(k.label, row);
    }
    row.fill.style.width = `${(k.share / Math.max(max, d.even_share * 1.25)) * 100}%`;
    setClass(row.li, `dist-row${k.eligible ? '' : ' dist-ineligible'}`);
    setText(row.value, `${formatCount(k.count)} · ${formatPct(k.share)}`);
    row.li.title = k.eligible ? `${k.label}: ${k.count} requests` : `${k.label}: cannot serve now`;
    if (row.li !== before) list.insertBefore(row.li, before);
    before = row.li.nextSibling;
  }
  for (const [label, row] of distRows) {
    if (!seen.has(label)) {
      row.li.remove();
      distRows.delete(label);
    }
  }
  list.style.setProperty(
    '--even-pos',
    `${(d.even_share / Math.max(max, d.even_share * 1.25)) * 100}%`,
  );
  list.classList.toggle('has-even', s.auto_rotate && d.keys.some((k) => k.eligible));
}

// ---- rate chart -----------------------------------------------------------------------------

const rate = new RateWindow(RATE_SECONDS);

function areaPath(values: readonly number[], max: number): string {
  const step = SPARK_W / values.length;
  let d = `M0 ${SPARK_H}`;
  for (let i = 0; i < values.length; i++) {
    const y = SPARK_H - ((values[i] ?? 0) / max) * (SPARK_H - 6);
    d += `L${(i * step).toFixed(1)} ${y.toFixed(1)}L${((i + 1) * step).toFixed(1)} ${y.toFixed(1)}`;
  }
  return `${d}L${SPARK_W} ${SPARK_H}Z`;
}

function renderRate(): void {
  const peak = Math.max(0, ...rate.counts);
  const max = Math.max(1, peak);
  byId('spark-req').setAttribute('d', areaPath(rate.counts, max));
  byId('spark-err').setAttribute('d', areaPath(rate.errors, max));
  const first = rate.end - RATE_SECONDS + 1;
  const gap = Math.max(0, Math.min(RATE_SECONDS, rate.since - first));
  const gapX = String((gap / RATE_SECONDS) * SPARK_W);
  byId('spark-gap').setAttribute('width', gapX);
  const since = byId('spark-since');
  since.setAttribute('x1', gapX);
  since.setAttribute('x2', gapX);
  since.classList.toggle('is-hidden', gap <= 0);
  const now = rate.recentRate(10);
  setText(byId('rps'), now >= 100 ? now.toFixed(0) : now.toFixed(1));
  setText(byId('peak'), formatCount(peak));
  const ratio = rate.errorRatio();
  setText(byId('err-rate'), ratio === null ? '—' : formatPct(ratio * 100, 1));
  byId('spark').setAttribute(
    'aria-label',
    `Request rate over the last 15 minutes: now ${now.toFixed(1)} per second, peak ${peak} per second, errors ${
      ratio === null ? 'none' : formatPct(ratio * 100, 1)
    }.`,
  );
}

// ---- feed -----------------------------------------------------------------------------------

let pendingAnnounce = { count: 0, errors: 0 };

function feedRow(r: FeedRecord): HTMLTableRowElement {
  const tr = make('tr');
  tr.dataset.requestId = r.id;
  const time = cell('Time', 'num mono');
  time.textContent = clockOfTs(r.ts);
  time.title = r.ts;
  const key = cell('Key', 'feed-key');
  key.textContent = r.key ?? '—';
  const endpoint = cell('Endpoint', 'feed-endpoint');
  const method = make('span', 'method', r.method);
  endpoint.append(method, document.createTextNode(` ${r.endpoint}`));
  endpoint.title = `${r.method} ${r.endpoint}${r.stream ? ' (stream)' : ''}`;
  const status = cell('Status');
  const pill = make('span', `status status-${statusClass(r.status)}`, String(r.status));
  if (r.error_code !== null) pill.title = r.error_code;
  status.append(pill);
  const latency = cell('Latency', 'right num');
  latency.textContent = formatLatency(r.latency_ms);
  latency.title = r.ttfb_ms === null ? '' : `first byte after ${formatLatency(r.ttfb_ms)}`;
  const failover = cell('Failovers', 'feed-failover');
  const hops = r.failover_from.length;
  failover.textContent = hops === 0 ? '—' : `${hops} (${r.failover_from.join(', ')})`;
  if (hops > 0) failover.classList.add('has-failover');
  tr.append(time, key, endpoint, status, latency, failover);
  return tr;
}

function addRecords(records: readonly FeedRecord[], announce: boolean): void {
  if (records.length === 0) return;
  const body = byId('feed-rows');
  const fragment = document.createDocumentFragment();
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    const tr = feedRow(r);
    if (announce) tr.classList.add('is-new');
    fragment.append(tr);
    if (announce) {
      pendingAnnounce.count++;
      if (r.status >= 500 || r.status === 429) pendingAnnounce.errors++;
    }
  }
  body.prepend(fragment);
  while (body.childElementCount > FEED_ROWS) body.lastElementChild?.remove();
  byId('feed-empty').hidden = body.childElementCount > 0;
}

function announceFeed(): void {
  const { count, errors } = pendingAnnounce;
  if (count === 0) return;
  pendingAnnounce = { count: 0, errors: 0 };
  setText(
    byId('feed-live'),
    `${count} new request${count === 1 ? '' : 's'}${errors > 0 ? `, ${errors} failed` : ''}.`,
  );
}

// ---- snapshot -------------------------------------------------------------------------------

function render(s: Snapshot): void {
  current = s;
  clockOffset = s.now - Date.now();
  renderHeader(s);
  renderKeys(s);
  renderDistribution(s);
  renderClocks();
}

// ---- actions --------------------------------------------------------------------------------

function showMessage(text: string, error: boolean): void {
  const box = byId('action-msg');
  setClass(box, `action-msg${error ? ' is-error' : ' is-ok'}`);
  box.textContent = text;
}

async function post(action: string, body: unknown): Promise<ActionReply> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${admin}/actions/${action}`, {
      method: 'POST',
      headers: authHeaders({ 'content-type': 'application/json' }),
      body: JSON.stringify(body),
      cache: 'no-store',
    });
    if (res.status === 401 && attempt === 0) {
      await askToken(token !== null);
      continue;
    }
    const reply = (await res.json().catch(() => ({}))) as ActionReply;
    if (!res.ok && reply.error === undefined) {
      return { error: { message: `The proxy answered ${res.status}.`, code: 'http' } };
    }
    return reply;
  }
}

async function unblockKey(row: KeyRow): Promise<void> {
  if (row.busy) return;
  row.busy = true;
  row.unblock.disabled = true;
  row.unblock.setAttribute('aria-busy', 'true');
  setText(row.unblock, 'Unblocking…');
  try {
    const reply = await post('unblock', { label: row.key.label });
    if (reply.snapshot) render(reply.snapshot);
    showMessage(reply.error?.message ?? reply.message ?? 'Done.', reply.error !== undefined);
  } catch (err) {
    showMessage(`Unblock failed: ${err instanceof Error ? err.message : String(err)}`, true);
  } finally {
    row.busy = false;
    row.unblock.removeAttribute('aria-busy');
    setText(row.unblock, 'Unblock');
    renderRow(row, row.key);
  }
}

async function toggleAutoRotate(): Promise<void> {
  const button = byId<HTMLButtonElement>('auto-rotate');
  if (current === null || button.getAttribute('aria-busy') === 'true') return;
  const on = !current.auto_rotate;
  button.setAttribute('aria-busy', 'true');
  try {
    const reply = await post('auto-rotate', { on });
    if (reply.snapshot) render(reply.snapshot);
    showMessage(reply.error?.message ?? reply.message ?? 'Done.', reply.error !== undefined);
  } catch (err) {
    showMessage(
      `Switching auto-rotate failed: ${err instanceof Error ? err.message : String(err)}`,
      true,
    );
  } finally {
    button.removeAttribute('aria-busy');
  }
}

// ---- feed connection ------------------------------------------------------------------------

function setConnection(text: string, state: 'live' | 'waiting' | 'down'): void {
  const node = byId('conn');
  setText(node, text);
  setClass(node, `sub conn-${state}`);
}

function handleEvent(event: string, data: string): void {
  if (event === 'hello') {
    const hello = JSON.parse(data) as HelloEvent;
    render(hello.snapshot);
    rate.reset(hello.rate);
    renderRate();
    byId('feed-rows').replaceChildren();
    addRecords(hello.records, false);
  } else if (event === 'snapshot') {
    const tick = JSON.parse(data) as SnapshotEvent;
    render(tick.snapshot);
    rate.merge(tick.rate);
    renderRate();
  } else if (event === 'requests') {
    const batch = JSON.parse(data) as RequestsEvent;
    addRecords(batch.records, true);
    setText(
      byId('feed-note'),
      batch.skipped > 0
        ? `busy: ${formatCount(batch.skipped)} requests not listed (still counted)`
        : '',
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function followFeed(): Promise<never> {
  let backoff = 1000;
  for (;;) {
    let rejected = false;
    try {
      setConnection('Connecting…', 'waiting');
      const res = await fetch(`${admin}/ui/feed`, { headers: authHeaders(), cache: 'no-store' });
      if (res.status === 401) {
        rejected = true;
        setConnection('Waiting for the proxy token', 'waiting');
        await askToken(token !== null);
        continue;
      }
      if (!res.ok || res.body === null) throw new Error(`the proxy answered ${res.status}`);
      setConnection('Live', 'live');
      backoff = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new EventStreamParser();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const e of parser.push(value)) handleEvent(e.event, e.data);
      }
      setConnection('Disconnected; reconnecting…', 'down');
    } catch (err) {
      if (rejected) continue;
      const reason = err instanceof Error ? err.message : String(err);
      setConnection(
        `Disconnected (${reason}); retrying in ${Math.round(backoff / 1000)} s`,
        'down',
      );
    }
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 15_000);
  }
}

// ---- start ----------------------------------------------------------------------------------

byId('auto-rotate').addEventListener('click', () => void toggleAutoRotate());
setInterval(renderClocks, 1000);
setInterval(announceFeed, ANNOUNCE_MS);
renderRate();
void followFeed();
