// `kmi rotate` / `--rotate` picks the best key (and writes the Kimi config); `rotate auto|off` switches auto-rotation.
import { KmiError } from '../errors.js';
import { writeKimiConfig } from '../kimi/config-toml.js';
import { disableAutoRotate, enableAutoRotate, type AutoRotateOutcome } from '../rotation/auto.js';
import { t } from '../ui/i18n/index.js';
import { runE2eCheck } from './e2e.js';
import { checkAllKeys } from './health-check.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(
  ctx: Context,
  opts: Record<string, unknown>,
  args: readonly string[],
): Promise<CommandResult> {
  const mode = args[0];
  if (mode === 'auto') return auto(ctx, opts);
  if (mode === 'off') return off(ctx);
  if (mode !== undefined) throw new KmiError('KMI_E_USAGE', 'rotateCmd.badMode', { mode });
  return manual(ctx);
}

async function manual(ctx: Context): Promise<CommandResult> {
  const { config, io } = ctx;
  const { registry, report } = await checkAllKeys(ctx);
  const rotation = report.rotation;
  const reason = t(rotation.reasonKey, rotation.reasonParams);
  if (rotation.choice === null)
    throw new KmiError('KMI_E_NO_ELIGIBLE_KEY', 'rotateCmd.noEligible', { reason });
  const key = registry.keys.find((k) => k.label === rotation.choice);
  if (!key) throw new KmiError('KMI_E_NO_ELIGIBLE_KEY', 'rotateCmd.noEligible', { reason });

  await ctx.store().update((state) => {
    state.active_label = key.label;
    state.active_index = registry.keys.indexOf(key);
  });

  let written: Awaited<ReturnType<typeof writeKimiConfig>> | null = null;
  let notWritten: 'dry-run' | 'disabled' | null = null;
  if (config.dryRun) notWritten = 'dry-run';
  else if (!config.writeConfig) notWritten = 'disabled';
  else {
    written = await writeKimiConfig({
      path: config.kimiConfigPath,
      key,
      enforcePerms: config.enforceFilePerms,
      now: Date.now(),
      upstreamBaseUrl: config.upstreamBaseUrl,
    });
    ctx.logger().audit('kimi_config_written', {
      label: key.label,
      key_hash: key.keyHash,
      file: written.path,
      backup: written.backupPath,
      actor: config.auditActor,
    });
  }

  if (ctx.json) {
    io.out(
      JSON.stringify(
        {
          mode: config.dryRun ? 'dry-run' : 'live',
          choice: key.label,
          masked_key: key.maskedKey,
          unchanged: rotation.unchanged,
          reason,
          config_written: written !== null,
          config_path: config.kimiConfigPath,
          backup: written?.backupPath ?? null,
          not_written_because: notWritten,
          ranked: rotation.ranked.map((r) => ({
            label: r.label,
            status: r.status,
            used_pct: r.usedPct,
            rank: r.rank,
          })),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  ctx.banner();
  io.out(
    rotation.unchanged
      ? t('rotation.unchanged', { label: key.label })
      : t('rotation.chosen', { label: `${key.label} (${key.maskedKey})` }),
  );
  io.out(`  ${reason}`);
  if (written) {
    io.out(
      t(written.created ? 'kimi.configCreated' : 'kimi.configWritten', {
        label: key.label,
        file: written.path,
        provider: written.providerName,
      }),
    );
    if (written.backupPath) io.out(t('kimi.backupCreated', { file: written.backupPath }));
  } else if (notWritten === 'dry-run') {
    io.out(t('rotation.notWrittenDryRun'));
  } else {
    io.out(t('rotation.notWrittenDisabled'));
  }
  return 0;
}

function printAuto(ctx: Context, outcome: AutoRotateOutcome): void {
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        {
          mode: ctx.config.dryRun ? 'dry-run' : 'live',
          ...outcome,
          message: t(outcome.messageKey, outcome.messageParams),
        },
        null,
        2,
      ),
    );
  } else {
    ctx.banner();
    ctx.io.out(t(outcome.messageKey, outcome.messageParams));
  }
}

async function auto(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const store = ctx.store();
  const outcome = await enableAutoRotate({
    config: ctx.config,
    store,
    logger: ctx.logger(),
    // The check needs the proxy to rotate, so auto-rotation is switched on for its duration and
    // switched back off when it fails.
    runE2e: async () => {
      const before = (await store.read()).auto_rotate;
      await store.update((s) => {
        s.auto_rotate = true;
      });
      await sleep(1200); // a running proxy notices state changes within a second
      let ok = false;
      try {
        const { result } = await runE2eCheck(ctx, { ...opts, pause: '0' }, false);
        ok = result.ok;
        const c = result.confidence.confidence;
        return {
          ok,
          summary: `confidence ${c === null ? 'n/a' : c.toFixed(1)}%, errors ${result.errors}`,
        };
      } finally {
        if (!ok && !before) {
          await store.update((s) => {
            s.auto_rotate = false;
          });
        }
      }
    },
  });
  printAuto(ctx, outcome);
  return outcome.enabled ? 0 : 1;
}

async function off(ctx: Context): Promise<CommandResult> {
  const outcome = await disableAutoRotate({
    config: ctx.config,
    store: ctx.store(),
    logger: ctx.logger(),
  });
  printAuto(ctx, outcome);
  return 0;
}
