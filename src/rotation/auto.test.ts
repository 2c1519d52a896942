import { describe, expect, it } from 'vitest';
import { KmiError } from '../errors.js';
import type { Logger, LogFields } from '../log/types.js';
import { emptyState, type State } from '../state/schema.js';
import { disableAutoRotate, enableAutoRotate } from './auto.js';

function memoryStore(initial: State = emptyState()) {
  const state = structuredClone(initial);
  let writes = 0;
  return {
    state,
    get writes() {
      return writes;
    },
    update: async (mutate: (s: State) => void) => {
      mutate(state);
      writes++;
      return structuredClone(state);
    },
  };
}

function recordingLogger() {
  const events: Array<{ level: string; event: string; fields?: LogFields }> = [];
  const logger: Pick<Logger, 'audit' | 'warn'> = {
    audit: (event, fields) => events.push({ level: 'audit', event, fields }),
    warn: (event, fields) => events.push({ level: 'warn', event, fields }),
  };
  return { events, logger };
}

const config = (over: Partial<{ autoRotateAllowed: boolean; autoRotateE2e: boolean }> = {}) => ({
  autoRotateAllowed: true,
  autoRotateE2e: true,
  auditActor: 'tester',
  ...over,
});

describe('enableAutoRotate', () => {
  it('is refused unless KMI_AUTO_ROTATE_ALLOWED=1, and changes nothing', async () => {
    const store = memoryStore();
    let ran = false;
    const err = await enableAutoRotate({
      config: config({ autoRotateAllowed: false }),
      store,
      runE2e: async () => {
        ran = true;
        return { ok: true, summary: '' };
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmiError);
    expect((err as KmiError).code).toBe('KMI_E_POLICY');
    expect((err as KmiError).messageKey).toBe('rotation.autoNotAllowed');
    expect(store.writes).toBe(0);
    expect(ran).toBe(false);
  });

  it('runs the e2e check first and enables on success, audited with the actor', async () => {
    const store = memoryStore();
    const { events, logger } = recordingLogger();
    const r = await enableAutoRotate({
      config: config(),
      store,
      logger,
      runE2e: async () => {
        expect(store.state.auto_rotate).toBe(false);
        return { ok: true, summary: 'keys=3/3 confidence=100%' };
      },
    });
    expect(r).toMatchObject({
      enabled: true,
      wasEnabled: false,
      e2e: 'passed',
      e2eSummary: 'keys=3/3 confidence=100%',
    });
    expect(r.messageKey).toBe('rotation.autoEnabledE2e');
    expect(store.state.auto_rotate).toBe(true);
    expect(events).toEqual([
      { level: 'audit', event: 'auto_rotate_on', fields: { actor: 'tester', e2e: 'passed' } },
    ]);
  });

  it('does not enable when the e2e check fails or throws', async () => {
    for (const runE2e of [
      async () => ({ ok: false, summary: 'E2E WARN confidence=60%' }),
      async (): Promise<{ ok: boolean; summary: string }> => {
        throw new Error('proxy not reachable');
      },
    ]) {
      const store = memoryStore();
      const { events, logger } = recordingLogger();
      const r = await enableAutoRotate({ config: config(), store, logger, runE2e });
      expect(r.enabled).toBe(false);
      expect(r.e2e).toBe('failed');
      expect(r.messageKey).toBe('rotation.autoE2eFailed');
      expect(r.e2eSummary).toMatch(/WARN|not reachable/);
      expect(store.writes).toBe(0);
      expect(store.state.auto_rotate).toBe(false);
      expect(events.map((e) => e.event)).toEqual(['auto_rotate_e2e_failed']);
    }
  });

  it("reports 'skipped' when the e2e check is wanted but no runner was given", async () => {
    const store = memoryStore();
    const r = await enableAutoRotate({ config: config(), store });
    expect(r).toMatchObject({
      enabled: true,
      e2e: 'skipped',
      messageKey: 'rotation.autoEnabledE2eSkipped',
    });
    expect(store.state.auto_rotate).toBe(true);
  });

  it("reports 'off' and does not run the check with KMI_AUTO_ROTATE_E2E=0", async () => {
    const store = memoryStore({ ...emptyState(), auto_rotate: true });
    let ran = false;
    const r = await enableAutoRotate({
      config: config({ autoRotateE2e: false }),
      store,
      runE2e: async () => {
        ran = true;
        return { ok: false, summary: '' };
      },
    });
    expect(ran).toBe(false);
    expect(r).toMatchObject({
      enabled: true,
      wasEnabled: true,
      e2e: 'off',
      messageKey: 'rotation.autoEnabled',
    });
  });
});

describe('disableAutoRotate', () => {
  it('sets auto_rotate false and audits it, even when not allowed to enable', async () => {
    const store = memoryStore({ ...emptyState(), auto_rotate: true });
    const { events, logger } = recordingLogger();
    const r = await disableAutoRotate({
      config: config({ autoRotateAllowed: false }),
      store,
      logger,
    });
    expect(r).toMatchObject({
      enabled: false,
      wasEnabled: true,
      messageKey: 'rotation.autoDisabled',
    });
    expect(store.state.auto_rotate).toBe(false);
    expect(events).toEqual([
      { level: 'audit', event: 'auto_rotate_off', fields: { actor: 'tester' } },
    ]);
    const again = await disableAutoRotate({ config: config(), store });
    expect(again.messageKey).toBe('rotation.autoAlreadyOff');
  });
});
