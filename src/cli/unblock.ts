// `kmi unblock <label>|--all`: lift blocks and cooldowns by hand, audited; a running proxy picks it up from state.
import { maskSecretsInText } from '../auth/mask.js';
import { KmiError } from '../errors.js';
import { clearBlock, clearExhausted, keyState } from '../state/key-state.js';
import { t } from '../ui/i18n/index.js';
import { closestName } from './suggest.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

export async function run(
  ctx: Context,
  opts: Record<string, unknown>,
  args: readonly string[],
): Promise<CommandResult> {
  const label = args[0];
  const all = opts.all === true;
  if ((label === undefined) === !all) throw new KmiError('KMI_E_USAGE', 'unblock.needLabel');
  const registry = await ctx.auth();
  const labels = registry.keys.map((k) => k.label);
  if (label !== undefined && !labels.includes(label)) {
    const near = closestName(label, labels);
    throw new KmiError('KMI_E_NOT_FOUND', 'unblock.unknownLabel', {
      // Someone may paste a key where the label belongs: never echo it whole.
      label: maskSecretsInText(label),
      hint: near ? t('cli.didYouMean', { name: near }) : '',
    });
  }
  const targets = label !== undefined ? [label] : labels;
  const changed: string[] = [];
  await ctx.store().update((state) => {
    changed.length = 0;
    for (const l of targets) {
      const ks = keyState(state, l);
      const a = clearBlock(ks);
      const b = clearExhausted(ks);
      if (a || b || (ks.consecutive_failures ?? 0) > 0) changed.push(l);
      ks.consecutive_failures = 0;
    }
  });
  ctx.logger().audit('unblock', {
    labels: changed,
    requested: label ?? '--all',
    actor: ctx.config.auditActor,
  });
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify(
        { mode: ctx.config.dryRun ? 'dry-run' : 'live', unblocked: changed, requested: targets },
        null,
        2,
      ),
    );
    return 0;
  }
  ctx.banner();
  ctx.io.out(
    changed.length > 0 ? t('unblock.done', { labels: changed.join(', ') }) : t('unblock.nothing'),
  );
  return 0;
}
