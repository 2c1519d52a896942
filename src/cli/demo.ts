// `kmi demo`: three demo keys, the simulated upstream with faults, the real proxy, a burst through it, and what happened.
import { proxyBaseUrl } from '../daemon/probe.js';
import { DEMO_BURST } from '../demo/burst.js';
import { startDemo, type DemoReport, type DemoSession } from '../demo/session.js';
import type { SimulatedFault } from '../proxy/simulate.js';
import { parseUtc } from '../state/schema.js';
import { t } from '../ui/i18n/index.js';
import { renderTable } from '../ui/table.js';
import { formatZonedShort } from '../zoned-time.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

const AUTH_COMMAND =
  "mkdir -p _auths && printf 'KMI_API_KEY=sk-your-key\\nKMI_KEY_LABEL=alpha\\n' > _auths/alpha.env";

/** The env lines a client needs for a proxy at `url` (the key stays in the proxy). */
function clientEnv(url: string, apiKey: string): string[] {
  return [
    `KIMI_BASE_URL=${url}`,
    `OPENAI_BASE_URL=${url}`,
    `ANTHROPIC_BASE_URL=${url.replace(/\/v1$/, '')}`,
    `KIMI_API_KEY=${apiKey}`,
  ];
}

interface NextStep {
  readonly text: string;
  readonly commands: readonly string[];
}

function nextSteps(ctx: Context): NextStep[] {
  // The URL the user's own proxy will have (their KMI_PROXY_LISTEN), not the demo's.
  const url = proxyBaseUrl(ctx.config);
  return [
    { text: t('demo.next.auth'), commands: [AUTH_COMMAND] },
    { text: t('demo.next.check'), commands: ['kmi status'] },
    { text: t('demo.next.live'), commands: ['KMI_DRY_RUN=0 kmi proxy'] },
    {
      text: t('demo.next.env'),
      commands: clientEnv(url, ctx.config.proxyToken !== '' ? '<KMI_PROXY_TOKEN>' : 'proxy'),
    },
  ];
}

function faultText(fault: SimulatedFault): string {
  return t(`demo.fault.${fault}`);
}

/** Where each phase of the burst switches faults on: "from request #7 on, … bravo … 429". */
function phaseNotes(): string[] {
  const notes: string[] = [];
  let n = 1;
  for (const phase of DEMO_BURST) {
    for (const [label, fault] of Object.entries(phase.faults))
      notes.push(t('demo.phaseFault', { n, label, fault: faultText(fault) }));
    n += phase.steps.length;
  }
  return notes;
}

function when(iso: string | null, timezone: string): string | null {
  const ms = parseUtc(iso);
  return ms === null ? null : formatZonedShort(ms, timezone);
}

function stateText(ctx: Context, row: DemoReport['keys'][number]): string {
  const p = ctx.io.paint;
  const until = when(row.availableAt, ctx.config.timezone);
  if (row.state === 'ok') return p.green(t('demo.state.ok'));
  if (row.state === 'blocked') {
    const reason = row.blockedReason ?? '?';
    return p.red(
      until !== null
        ? t('demo.state.blockedUntil', { reason, until })
        : t('demo.state.blocked', { reason }),
    );
  }
  if (row.state === 'exhausted' && until !== null)
    return p.yellow(t('demo.state.exhaustedUntil', { until }));
  return p.yellow(row.state);
}

function failoverLines(report: DemoReport): string[] {
  return report.failovers.map((f) =>
    t('demo.failoverLine', {
      n: f.n ?? '?',
      method: f.method,
      endpoint: f.endpoint,
      from: f.from.map((x) => `${x.label} ${faultText(x.fault)}`).join(' → '),
      to: f.to ?? '—',
      status: f.status,
    }),
  );
}

function confidenceText(report: DemoReport): string {
  const c = report.confidence;
  const value = c.confidence === null ? t('demo.confidenceNone') : `${c.confidence.toFixed(1)}%`;
  const line = t('demo.confidence', {
    value,
    sample: c.sample,
    eligible: report.eligible.join(', ') || t('common.none'),
  });
  return c.warn ? `${line}; ${t('demo.confidenceLow')}` : line;
}

function printReport(ctx: Context, report: DemoReport, keep: boolean): void {
  const { io } = ctx;
  const p = io.paint;
  const n = report.results.length;
  const failed = report.results.filter((r) => !r.ok);
  io.out(t('demo.intro', { url: report.url }));
  io.out(`  ${t('demo.tempDir', { dir: report.dir })}`);
  io.out('');
  io.out(p.bold(t('demo.sending', { n })));
  for (const note of phaseNotes()) io.out(`  ${note}`);
  io.out(
    failed.length === 0
      ? `  ${p.green(t('demo.requestsOk', { ok: n, n }))}`
      : `  ${p.red(t('demo.requestsFailed', { failed: failed.length, n }))}`,
  );
  for (const r of failed) io.out(`    #${r.n} ${r.method} ${r.path}: ${r.problem ?? ''}`);

  io.out('');
  io.out(p.bold(t('demo.traceTitle')));
  const nById = new Map(report.results.map((r) => [r.requestId, r.n]));
  io.out(
    renderTable(
      io,
      [
        { header: '#', align: 'right' },
        { header: t('trace.col.time') },
        { header: t('trace.col.endpoint') },
        { header: t('trace.col.status'), align: 'right' },
        { header: t('trace.col.key') },
        { header: t('trace.col.latency'), align: 'right' },
      ],
      report.trace.map((r) => [
        String(nById.get(r.request_id) ?? ''),
        r.ts.slice(11, 19),
        `${r.method} ${r.endpoint}${r.stream ? ` (${t('demo.streamTag')})` : ''}`,
        r.status >= 400 ? p.red(String(r.status)) : String(r.status),
        (r.key_label ?? '—') +
          (r.failover_from.length > 0
            ? ` ${p.yellow(t('demo.after', { labels: r.failover_from.join(', ') }))}`
            : ''),
        `${r.latency_ms} ms`,
      ]),
    ),
  );

  io.out('');
  io.out(p.bold(t('demo.keysTitle')));
  io.out(
    renderTable(
      io,
      [
        { header: t('demo.col.label') },
        { header: t('demo.col.key') },
        { header: t('demo.col.requests'), align: 'right' },
        { header: t('demo.col.errors'), align: 'right' },
        { header: t('demo.col.state') },
      ],
      report.keys.map((k) => [
        k.label,
        k.maskedKey,
        String(k.requests),
        k.errors > 0 ? p.red(String(k.errors)) : '0',
        stateText(ctx, k),
      ]),
    ),
  );

  io.out('');
  io.out(p.bold(t('demo.failoversTitle')));
  const lines = failoverLines(report);
  if (lines.length === 0) io.out(`  ${t('demo.failoverNone')}`);
  for (const line of lines) io.out(`  ${line}`);

  io.out('');
  io.out(report.confidence.warn ? p.yellow(confidenceText(report)) : confidenceText(report));

  if (!keep) {
    io.out('');
    io.out(p.bold(t('demo.nextTitle')));
    nextSteps(ctx).forEach((step, i) => {
      io.out(`  ${i + 1}. ${step.text}`);
      for (const c of step.commands) io.out(`       ${c}`);
    });
  }
}

function jsonSummary(
  ctx: Context,
  report: DemoReport,
  extra: { kept: boolean; cleaned_up: boolean },
): Record<string, unknown> {
  return {
    mode: 'dry-run',
    demo: true,
    url: report.url,
    temp_dir: report.dir,
    requests: {
      sent: report.results.length,
      ok: report.results.filter((r) => r.ok).length,
      failed: report.results.filter((r) => !r.ok).length,
    },
    results: report.results.map((r) => ({
      n: r.n,
      method: r.method,
      endpoint: r.path,
      stream: r.stream,
      status: r.status,
      ok: r.ok,
      key_label: r.label,
      request_id: r.requestId,
      latency_ms: r.ms,
      problem: r.problem,
    })),
    keys: report.keys.map((k) => ({
      label: k.label,
      masked_key: k.maskedKey,
      requests: k.requests,
      errors: k.errors,
      state: k.state,
      blocked_reason: k.blockedReason,
      available_at: k.availableAt,
      simulated_fault: k.fault,
    })),
    failovers: report.failovers.map((f) => ({
      n: f.n,
      request_id: f.requestId,
      method: f.method,
      endpoint: f.endpoint,
      from: f.from,
      to: f.to,
      status: f.status,
    })),
    confidence: {
      value: report.confidence.confidence,
      warn: report.confidence.warn,
      sample: report.confidence.sample,
      eligible: report.eligible,
    },
    trace: report.trace,
    next_steps: nextSteps(ctx).map((s) => ({ text: s.text, commands: s.commands })),
    ...extra,
  };
}

interface SignalTrap {
  /** The first SIGINT/SIGTERM received, or null. */
  readonly received: NodeJS.Signals | null;
  /** Resolves with the first signal. */
  wait(): Promise<NodeJS.Signals>;
  release(): void;
}

/**
 * Catch SIGINT/SIGTERM for the whole run, so an interrupted demo still cleans up. The listeners stay
 * until the cleanup is done: with none left, a state write in flight (write-file-atomic's
 * signal-exit hook) would re-raise the signal and kill the process before it removed its temp folder.
 */
function trapSignals(): SignalTrap {
  let received: NodeJS.Signals | null = null;
  const waiters: ((s: NodeJS.Signals) => void)[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== null) return;
    received = signal;
    for (const w of waiters.splice(0)) w(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get received() {
      return received;
    },
    wait: () =>
      received !== null ? Promise.resolve(received) : new Promise((r) => waiters.push(r)),
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { io } = ctx;
  const keep = opts.keep === true;
  // The demo is always dry-run, whatever the user's KMI_DRY_RUN says.
  if (!ctx.json) io.out(t('mode.dryRun'));
  const signals = trapSignals();
  let session: DemoSession | null = null;
  try {
    session = await startDemo({
      timezone: ctx.config.timezone,
      locale: ctx.config.locale,
      version: ctx.version,
    });
    if (signals.received !== null) return 1; // interrupted: the finally cleans up
    const { report } = session;
    const allOk = report.results.every((r) => r.ok);
    if (keep) {
      await session.heal();
      if (ctx.json) {
        io.out(
          JSON.stringify(jsonSummary(ctx, report, { kept: true, cleaned_up: false }), null, 2),
        );
      } else {
        printReport(ctx, report, true);
        io.out('');
        io.out(io.paint.bold(t('demo.keepRunning', { url: session.url })));
        io.out(`  ${t('demo.next.env')}`);
        for (const line of clientEnv(session.url, 'kmi-demo')) io.out(`    ${line}`);
        io.out(`  ${t('demo.keepTry')}`);
        io.out(`    curl -s ${session.url}/models`);
        io.out(t('demo.keepStop', { dir: session.dir }));
      }
      const signal = await signals.wait();
      if (!ctx.json) io.out(t('demo.keepStopping', { signal }));
      const cleaned = await session.close();
      if (!cleaned) io.err(`kmi: ${t('demo.notCleaned', { dir: session.dir })}`);
      return cleaned && allOk ? 0 : 1;
    }
    const cleaned = await session.close();
    if (ctx.json) {
      io.out(
        JSON.stringify(jsonSummary(ctx, report, { kept: false, cleaned_up: cleaned }), null, 2),
      );
    } else {
      printReport(ctx, report, false);
      io.out('');
      io.out(cleaned ? t('demo.cleaned') : t('demo.notCleaned', { dir: report.dir }));
    }
    if (!allOk && !ctx.json) {
      const failed = report.results.filter((r) => !r.ok).length;
      io.err(`kmi: ${t('demo.requestsFailed', { failed, n: report.results.length })}`);
    }
    return allOk && cleaned ? 0 : 1;
  } finally {
    await session?.close();
    signals.release();
  }
}
