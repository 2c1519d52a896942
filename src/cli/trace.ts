// `kmi trace` / `kmi --trace`: a live full-screen view of recent requests, key shares and rotation confidence.
import { join } from 'node:path';
import { isBlocked, isExhausted } from '../state/key-state.js';
import { readTraceTail, traceFilePath } from '../trace/reader.js';
import { buildTraceSnapshot, type TraceSnapshot } from '../trace/snapshot.js';
import { CONFIDENCE_WINDOW } from '../trace/confidence.js';
import { t } from '../ui/i18n/index.js';
import { renderTable } from '../ui/table.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

async function snapshot(ctx: Context): Promise<TraceSnapshot> {
  const [registry, state] = await Promise.all([ctx.auth(), ctx.store().read()]);
  const now = Date.now();
  const eligible = registry.keys
    .filter((k) => {
      const ks = state.keys[k.label];
      return !k.disabled && !(ks && (isBlocked(ks, now) || isExhausted(ks, now)));
    })
    .map((k) => k.label);
  const read = await readTraceTail(
    traceFilePath(join(ctx.config.stateDir, 'trace')),
    CONFIDENCE_WINDOW,
  );
  return buildTraceSnapshot(read.records, eligible, { malformed: read.malformed });
}

export function renderSnapshot(ctx: Context, s: TraceSnapshot, width: number): string[] {
  const { io } = ctx;
  const p = io.paint;
  const out: string[] = [];
  const c = s.confidence;
  const confText =
    c.confidence === null ? t('trace.confidenceNone') : `${c.confidence.toFixed(1)}%`;
  out.push(
    io.paint.bold(t('trace.title')) +
      `  ${t('trace.confidence')}: ` +
      (c.warn ? p.yellow(`${confText} ${t('trace.confidenceLow')}`) : p.green(confText)) +
      `  ${t('trace.sample', { n: s.total, errors: s.errors })}` +
      (s.malformed > 0 ? `  ${p.yellow(t('trace.malformed', { n: s.malformed }))}` : ''),
  );
  out.push('');
  const barWidth = Math.max(10, Math.min(40, width - 40));
  out.push(io.paint.bold(t('trace.distribution', { n: CONFIDENCE_WINDOW })));
  const labelWidth = Math.max(5, ...c.keys.map((k) => k.label.length));
  for (const k of c.keys) {
    const filled = Math.round((k.share / 100) * barWidth);
    const bar = io.plain
      ? '#'.repeat(filled) + '.'.repeat(barWidth - filled)
      : '█'.repeat(filled) + '░'.repeat(barWidth - filled);
    const tag = k.eligible ? '' : ` ${t('trace.notEligible')}`;
    out.push(
      `  ${k.label.padEnd(labelWidth)} ${bar} ${k.share.toFixed(1).padStart(5)}% (${k.count})${tag}`,
    );
  }
  if (c.keys.length === 0) out.push(`  ${t('trace.empty')}`);
  out.push('');
  out.push(io.paint.bold(t('trace.recent')));
  if (s.recent.length === 0) {
    out.push(`  ${t('trace.empty')}`);
  } else {
    out.push(
      renderTable(
        io,
        [
          { header: t('trace.col.time') },
          { header: t('trace.col.key') },
          { header: t('trace.col.endpoint') },
          { header: t('trace.col.status'), align: 'right' },
          { header: t('trace.col.latency'), align: 'right' },
          { header: t('trace.col.prompt') },
        ],
        [...s.recent]
          .reverse()
          .map((r) => [
            r.ts.slice(11, 19),
            r.key_label ?? '—',
            r.endpoint,
            r.status >= 400 || r.error_code ? p.red(String(r.status)) : String(r.status),
            `${r.latency_ms} ms`,
            (r.prompt_hint ?? '').slice(0, Math.max(10, width - 70)),
          ]),
      ),
    );
  }
  if (s.failovers.length > 0) {
    out.push('');
    out.push(io.paint.bold(t('trace.failovers')));
    for (const r of s.failovers)
      out.push(`  ${r.ts}  ${r.failover_from.join(' → ')} → ${r.key_label ?? '—'}  (${r.status})`);
  }
  return out;
}

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { io } = ctx;
  if (ctx.json) {
    const s = await snapshot(ctx);
    io.out(JSON.stringify({ mode: ctx.config.dryRun ? 'dry-run' : 'live', ...s }, null, 2));
    return 0;
  }
  const live = opts.once !== true && process.stdout.isTTY === true && process.stdin.isTTY === true;
  if (!live) {
    ctx.banner();
    for (const line of renderSnapshot(ctx, await snapshot(ctx), process.stdout.columns ?? 100))
      io.out(line);
    return 0;
  }
  return runLive(ctx);
}

async function runLive(ctx: Context): Promise<CommandResult> {
  const stdout = process.stdout;
  const stdin = process.stdin;
  stdout.write('\u001b[?1049h\u001b[?25l');
  stdin.setRawMode(true);
  stdin.resume();
  let timer: NodeJS.Timeout | null = null;
  const restore = () => {
    if (timer) clearInterval(timer);
    stdin.setRawMode(false);
    stdin.pause();
    stdout.write('\u001b[?25h\u001b[?1049l');
  };
  await new Promise<void>((resolve) => {
    let drawing = false;
    const draw = async () => {
      if (drawing) return;
      drawing = true;
      try {
        const lines = [
          t(ctx.config.dryRun ? 'mode.dryRun' : 'mode.live'),
          ...renderSnapshot(ctx, await snapshot(ctx), stdout.columns ?? 100),
          '',
          ctx.io.paint.dim(t('trace.quitHint')),
        ];
        const rows = stdout.rows ?? 40;
        stdout.write(`\u001b[H\u001b[2J${lines.slice(0, rows - 1).join('\n')}`);
      } finally {
        drawing = false;
      }
    };
    const quit = () => {
      stdin.off('data', onKey);
      process.off('SIGTERM', quit);
      restore();
      resolve();
    };
    const onKey = (data: Buffer) => {
      const key = data.toString('utf8');
      if (key === 'q' || key === 'Q' || key === '\u0003' || key === '\u001b') quit();
    };
    stdin.on('data', onKey);
    process.once('SIGTERM', quit);
    void draw();
    timer = setInterval(() => void draw(), 1000);
  });
  return 0;
}
