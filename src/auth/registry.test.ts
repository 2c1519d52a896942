import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { t } from '../ui/i18n/index.js';
import { keyHash } from './mask.js';
import { loadAuthRegistry } from './registry.js';
import type { AuthRegistry } from './types.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/auth');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-auth-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(rel: string, content: string | Buffer): Promise<void> {
  const path = join(dir, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

function key(n: number): string {
  return `sk-registry-test-${String(n).padStart(24, '0')}`;
}

const load = (allowlist: readonly string[] = []): Promise<AuthRegistry> =>
  loadAuthRegistry({ dir, upstreamAllowlist: allowlist });

/** Warnings as [file relative to the temp dir, message key]. */
function warned(reg: AuthRegistry): Array<[string, string]> {
  return reg.warnings.map((w) => [w.file.slice(dir.length + 1), w.messageKey]);
}

const isRoot = process.getuid?.() === 0;
const canSymlink = process.platform !== 'win32';

describe('loadAuthRegistry', () => {
  it('gives an empty registry for a missing folder', async () => {
    const reg = await loadAuthRegistry({ dir: join(dir, 'missing'), upstreamAllowlist: [] });
    expect(reg).toEqual({
      dir: join(dir, 'missing'),
      dirExists: false,
      keys: [],
      warnings: [],
      duplicates: [],
    });
  });

  it('reads one key from each format', async () => {
    await put('a.env', `KMI_API_KEY=${key(1)}\nKMI_ACCOUNT_EMAIL=a@example.com\n`);
    await put(
      'b.toml',
      `[providers.kimi-for-coding]\ntype = "kimi"\nbase_url = "https://api.kimi.com/coding/v1"\napi_key = "${key(2)}"\n`,
    );
    await put('c.json', JSON.stringify({ providers: { 'moonshot-ai': { api_key: key(3) } } }));
    await put('d.json.bak', JSON.stringify({ api_key: key(4), email: 'd@example.com' }));
    const reg = await load();
    expect(reg.dirExists).toBe(true);
    expect(reg.warnings).toEqual([]);
    expect(reg.keys.map((k) => [k.label, k.format, k.apiKey])).toEqual([
      ['a', 'env', key(1)],
      ['b', 'toml', key(2)],
      ['c', 'json', key(3)],
      ['d', 'json', key(4)],
    ]);
    const [a, b, c] = reg.keys;
    expect(a).toEqual({
      label: 'a',
      apiKey: key(1),
      maskedKey: 'sk-r…0001',
      keyHash: keyHash(key(1)),
      source: join(dir, 'a.env'),
      format: 'env',
      baseUrl: null,
      priority: 0,
      disabled: false,
      email: 'a@example.com',
      provider: null,
    });
    expect(b?.baseUrl).toBe('https://api.kimi.com/coding/v1');
    expect(b?.provider?.name).toBe('kimi-for-coding');
    expect(b?.provider?.table.type).toBe('kimi');
    expect(c?.provider).toEqual({ name: 'moonshot-ai', table: { api_key: key(3) } });
  });

  it('orders keys by priority (desc), then label', async () => {
    await put('a.env', `KMI_API_KEY=${key(1)}\n`);
    await put('b.env', `KMI_API_KEY=${key(2)}\nKMI_KEY_PRIORITY=10\n`);
    await put('c.env', `KMI_API_KEY=${key(3)}\nKMI_KEY_PRIORITY=-1\n`);
    await put('d.json', JSON.stringify({ api_key: key(4), priority: 10 }));
    await put('B.env', `KMI_API_KEY=${key(5)}\n`);
    const reg = await load();
    expect(reg.keys.map((k) => `${k.label}:${k.priority}`)).toEqual([
      'b:10',
      'd:10',
      'B:0',
      'a:0',
      'c:-1',
    ]);
  });

  it('derives labels from file names and sub-folders', async () => {
    await put('alpha.json.bak', JSON.stringify({ api_key: key(1) }));
    await put('bob.env', `KMI_API_KEY=${key(2)}\n`);
    await put('work_config.toml', `api_key = "${key(3)}"\n`);
    await put('home-config.json', JSON.stringify({ api_key: key(4) }));
    await put('.env', `KMI_API_KEY=${key(5)}\n`);
    await put('team/.env', `KMI_API_KEY=${key(6)}\n`);
    await put('team/carol.env', `KMI_API_KEY=${key(7)}\nKMI_KEY_LABEL=  \n`);
    await put('named.env', `KMI_API_KEY=${key(8)}\nKMI_KEY_LABEL=Explicit Name\n`);
    const reg = await load();
    expect(reg.warnings).toEqual([]);
    expect(reg.keys.map((k) => k.label).sort()).toEqual(
      ['Explicit Name', 'alpha', 'bob', 'carol', 'env', 'home', 'team', 'work'].sort(),
    );
  });

  it('makes clashing labels unique with -2, -3 and a warning, in sorted path order', async () => {
    await put('a/work.env', `KMI_API_KEY=${key(1)}\n`);
    await put('b/work.env', `KMI_API_KEY=${key(2)}\n`);
    await put('work.json', JSON.stringify({ api_key: key(3) }));
    await put('x.env', `KMI_API_KEY=${key(4)}\nKMI_KEY_LABEL=work\n`);
    const reg = await load();
    const bySource = Object.fromEntries(
      reg.keys.map((k) => [k.source.slice(dir.length + 1), k.label]),
    );
    expect(bySource).toEqual({
      'a/work.env': 'work',
      'b/work.env': 'work-2',
      'work.json': 'work-3',
      'x.env': 'work-4',
    });
    expect(warned(reg)).toEqual([
      ['b/work.env', 'auth.warn.labelClash'],
      ['work.json', 'auth.warn.labelClash'],
      ['x.env', 'auth.warn.labelClash'],
    ]);
    expect(reg.warnings[0]?.params).toMatchObject({
      label: 'work',
      renamed: 'work-2',
      other: join(dir, 'a', 'work.env'),
    });
  });

  it('keeps the first file of a duplicated key and reports the others', async () => {
    await put('b.env', `KMI_API_KEY=${key(1)}\n`);
    await put('a.json', JSON.stringify({ api_key: key(1), label: 'first' }));
    await put('c/c.toml', `api_key = "  ${key(1)}  "\n`);
    await put('d.env', `KMI_API_KEY=${key(2)}\nKMI_KEY_LABEL=b\n`);
    const reg = await load();
    expect(reg.keys.map((k) => [k.label, k.source])).toEqual([
      ['b', join(dir, 'd.env')],
      ['first', join(dir, 'a.json')],
    ]);
    expect(reg.duplicates).toEqual([
      { file: join(dir, 'b.env'), duplicateOf: join(dir, 'a.json'), label: 'b' },
      { file: join(dir, 'c', 'c.toml'), duplicateOf: join(dir, 'a.json'), label: 'c' },
    ]);
    expect(warned(reg)).toEqual([
      ['b.env', 'auth.warn.duplicate'],
      ['c/c.toml', 'auth.warn.duplicate'],
    ]);
    expect(reg.warnings[0]?.params).toMatchObject({
      masked: 'sk-r…0001',
      other: join(dir, 'a.json'),
    });
  });

  it('includes disabled keys, flagged', async () => {
    await put('off.env', `KMI_API_KEY=${key(1)}\nKMI_KEY_DISABLED=true\n`);
    await put('on.json', JSON.stringify({ api_key: key(2), disabled: false }));
    const reg = await load();
    expect(reg.keys.map((k) => [k.label, k.disabled])).toEqual([
      ['off', true],
      ['on', false],
    ]);
  });

  it('checks per-key base URLs against https and the allowlist', async () => {
    await put(
      'ok.env',
      `KMI_API_KEY=${key(1)}\nKMI_UPSTREAM_BASE_URL=https://api.kimi.com/coding/v1/\n`,
    );
    await put(
      'local.json',
      JSON.stringify({ api_key: key(2), base_url: 'http://127.0.0.1:8080/v1' }),
    );
    await put('plain.env', `KMI_API_KEY=${key(3)}\nKMI_UPSTREAM_BASE_URL=http://api.kimi.com/v1\n`);
    await put(
      'other.json',
      JSON.stringify({ api_key: key(4), base_url: 'https://evil.example.com/v1' }),
    );
    const reg = await load(['api.kimi.com', '127.0.0.1']);
    expect(reg.keys.map((k) => [k.label, k.baseUrl])).toEqual([
      ['local', 'http://127.0.0.1:8080/v1'],
      ['ok', 'https://api.kimi.com/coding/v1'],
    ]);
    expect(warned(reg)).toEqual([
      ['other.json', 'auth.warn.badBaseUrl'],
      ['plain.env', 'auth.warn.badBaseUrl'],
    ]);
    expect(reg.warnings.map((w) => w.params.expected)).toEqual([
      { ref: 'config.expect.upstream.allowlist' },
      { ref: 'config.expect.upstream.scheme' },
    ]);
  });

  it('keeps a .env file with malformed lines, warning with file and line', async () => {
    await put('a.env', `KMI_API_KEY=${key(1)}\n??? garbage\nKMI_KEY_LABEL=ok\n`);
    const reg = await load();
    expect(reg.keys.map((k) => k.label)).toEqual(['ok']);
    expect(reg.warnings).toEqual([
      {
        file: join(dir, 'a.env'),
        messageKey: 'auth.warn.envLineMalformed',
        params: { line: 2, file: join(dir, 'a.env') },
      },
    ]);
    expect(t(reg.warnings[0]!.messageKey, reg.warnings[0]!.params)).toBe(
      `${join(dir, 'a.env')}:2: ignored a malformed line (expected KEY=value)`,
    );
  });

  it('tolerates a UTF-8 BOM in every format', async () => {
    const bom = '\uFEFF';
    await put('a.env', `${bom}KMI_API_KEY=${key(1)}\r\n`);
    await put('b.toml', `${bom}api_key = "${key(2)}"\n`);
    await put('c.json', `${bom}${JSON.stringify({ api_key: key(3) })}`);
    const reg = await load();
    expect(reg.warnings).toEqual([]);
    expect(reg.keys.map((k) => k.apiKey)).toEqual([key(1), key(2), key(3)]);
  });

  it('skips every kind of bad file with one warning naming it, and still loads the good ones', async () => {
    await put('good.env', `KMI_API_KEY=${key(1)}\n`);
    await put('bad-toml.toml', `[providers.kimi-for-coding\napi_key = "${key(2)}"\n`);
    await put('bad-json.json', `{"api_key": "${key(3)}",}`);
    await put('binary.env', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x00]));
    await put('binary.json', Buffer.from([0xc3, 0x28, 0xa0, 0xa1]));
    await put('missing.env', 'KMI_KEY_LABEL=nokey\n');
    await put('empty.env', '');
    await put('blank.env', 'KMI_API_KEY=   \n');
    await put('null.json', '{"api_key": null}');
    await put('number.json', '{"api_key": 42}');
    await put('list.json', `["${key(4)}"]`);
    await put('prio.env', `KMI_API_KEY=${key(5)}\nKMI_KEY_PRIORITY=ten\n`);
    await put('off.env', `KMI_API_KEY=${key(6)}\nKMI_KEY_DISABLED=perhaps\n`);
    await put('url.env', `KMI_API_KEY=${key(7)}\nKMI_UPSTREAM_BASE_URL=ftp://x/\n`);
    await put('huge.json', `{"api_key": "${key(8)}", "pad": "${'x'.repeat(1024 * 1024)}"}`);
    await put('noprov.toml', 'default_model = "k"\n');
    await put('README.md', `# notes\nKMI_API_KEY=${key(9)}\n`);
    await put('.secret.env', `KMI_API_KEY=${key(10)}\n`);
    await mkdir(join(dir, 'folder.env'));
    const reg = await load();
    expect(reg.keys.map((k) => k.label)).toEqual(['good']);
    expect(warned(reg)).toEqual([
      ['bad-json.json', 'auth.warn.invalidJsonAt'],
      ['bad-toml.toml', 'auth.warn.invalidTomlAt'],
      ['binary.env', 'auth.warn.binary'],
      ['binary.json', 'auth.warn.binary'],
      ['blank.env', 'auth.warn.missingKey'],
      ['empty.env', 'auth.warn.missingKey'],
      ['folder.env', 'auth.warn.notRegularFile'],
      ['huge.json', 'auth.warn.tooLarge'],
      ['list.json', 'auth.warn.notObject'],
      ['missing.env', 'auth.warn.missingKey'],
      ['noprov.toml', 'auth.warn.noProvider'],
      ['null.json', 'auth.warn.nullKey'],
      ['number.json', 'auth.warn.keyNotString'],
      ['off.env', 'auth.warn.badValue'],
      ['prio.env', 'auth.warn.badValue'],
      ['url.env', 'auth.warn.badBaseUrl'],
    ]);
    const params = Object.fromEntries(
      reg.warnings.map((w) => [w.file.slice(dir.length + 1), w.params]),
    );
    expect(params['prio.env']).toMatchObject({ field: 'KMI_KEY_PRIORITY', got: 'ten' });
    expect(params['off.env']).toMatchObject({ field: 'KMI_KEY_DISABLED', got: 'perhaps' });
    expect(params['null.json']).toMatchObject({ field: 'api_key' });
    for (const w of reg.warnings) expect(t(w.messageKey, w.params)).toContain(w.file);
  });

  it.skipIf(!canSymlink)(
    'skips broken links and link loops with a warning, without hanging',
    async () => {
      await put('good.env', `KMI_API_KEY=${key(1)}\n`);
      await symlink(join(dir, 'nowhere.env'), join(dir, 'broken.env'));
      await symlink(join(dir, 'loop2.json'), join(dir, 'loop1.json'));
      await symlink(join(dir, 'loop1.json'), join(dir, 'loop2.json'));
      await symlink(dir, join(dir, 'self'));
      await symlink(join(dir, 'good.env'), join(dir, 'alias.env'));
      const reg = await load();
      expect(reg.keys.map((k) => k.label)).toEqual(['alias']);
      expect(warned(reg)).toEqual([
        ['broken.env', 'auth.warn.brokenLink'],
        ['good.env', 'auth.warn.duplicate'],
        ['loop1.json', 'auth.warn.linkLoop'],
        ['loop2.json', 'auth.warn.linkLoop'],
      ]);
    },
  );

  it.skipIf(isRoot || process.platform === 'win32')(
    'skips an unreadable file (EACCES)',
    async () => {
      await put('good.env', `KMI_API_KEY=${key(1)}\n`);
      await put('locked.env', `KMI_API_KEY=${key(2)}\n`);
      await chmod(join(dir, 'locked.env'), 0o000);
      const reg = await load();
      expect(reg.keys.map((k) => k.label)).toEqual(['good']);
      expect(reg.warnings.map((w) => [w.messageKey, w.params.reason])).toEqual([
        ['auth.warn.unreadable', 'EACCES'],
      ]);
    },
  );

  it.skipIf(isRoot || process.platform === 'win32')('skips an unreadable sub-folder', async () => {
    await put('good.env', `KMI_API_KEY=${key(1)}\n`);
    await put('locked/x.env', `KMI_API_KEY=${key(2)}\n`);
    await chmod(join(dir, 'locked'), 0o000);
    try {
      const reg = await load();
      expect(reg.keys.map((k) => k.label)).toEqual(['good']);
      expect(warned(reg)).toEqual([['locked', 'auth.warn.dirUnreadable']]);
    } finally {
      await chmod(join(dir, 'locked'), 0o700);
    }
  });

  it('never puts a key into a warning, in any language', async () => {
    const keys = Array.from({ length: 17 }, (_, i) => key(100 + i));
    await put('dup1.env', `KMI_API_KEY=${keys[0]}\n`);
    await put('dup2.env', `KMI_API_KEY=${keys[0]}\n`);
    await put('lines.env', `KMI_API_KEY=${keys[16]}\n${keys[1]}\nKMI_KEY_LABEL="${keys[2]}\n`);
    await put('prio.env', `KMI_API_KEY=${keys[3]}\nKMI_KEY_PRIORITY=${keys[4]}\n`);
    await put('off.env', `KMI_API_KEY=${keys[5]}\nKMI_KEY_DISABLED="${keys[6]}"\n`);
    await put('url.env', `KMI_API_KEY=${keys[7]}\nKMI_UPSTREAM_BASE_URL=https://${keys[8]}:x@h/\n`);
    await put('bad.json', `{"api_key": "${keys[9]}" "label": 1}`);
    await put('bad2.json', `${keys[10]}`);
    await put('bad.toml', `api_key = "${keys[11]}`);
    await put('spaces.env', `KMI_API_KEY="${keys[12]} x"\n`);
    await put('label.json', JSON.stringify({ api_key: keys[13], label: `${keys[14]}\u0007` }));
    await put('list.json', JSON.stringify([keys[15]]));
    const reg = await load();
    expect(reg.warnings.length).toBeGreaterThanOrEqual(12);
    expect(reg.warnings.map((w) => w.messageKey)).toEqual(
      expect.arrayContaining([
        'auth.warn.envLineMalformed',
        'auth.warn.envVarMalformed',
        'auth.warn.duplicate',
      ]),
    );
    const texts = reg.warnings.flatMap((w) => [
      t(w.messageKey, w.params, 'en'),
      t(w.messageKey, w.params, 'ru'),
      JSON.stringify(w.params),
    ]);
    for (const text of texts) {
      for (const k of keys) expect(text).not.toContain(k.slice(4, -4));
      expect(text).not.toMatch(/\{\w+\}/); // every placeholder filled
    }
  });

  it('loads the shared fixtures as documented in test/fixtures/auth/README.md', async () => {
    await cp(FIXTURES, dir, { recursive: true });
    const reg = await load();
    expect(reg.keys.map((k) => [k.label, k.priority, k.disabled])).toEqual([
      ['alpha', 5, false],
      ['delta', 2, false],
      ['alpha-2', 0, false],
      ['bravo', 0, false],
      ['charlie', 0, false],
      ['echo', 0, false],
      ['team', -1, true],
    ]);
    expect(reg.keys.find((k) => k.label === 'bravo')?.provider?.name).toBe('kimi-for-coding');
    expect(reg.keys.find((k) => k.label === 'charlie')?.provider?.name).toBe('managed:kimi-code');
    expect(warned(reg)).toEqual([
      ['broken-array.json', 'auth.warn.notObject'],
      ['broken-binary.env', 'auth.warn.binary'],
      ['broken-disabled.env', 'auth.warn.badValue'],
      ['broken-empty.env', 'auth.warn.missingKey'],
      ['broken-noprovider.toml', 'auth.warn.missingKey'],
      ['broken-null.json', 'auth.warn.nullKey'],
      ['broken-number.json', 'auth.warn.keyNotString'],
      ['broken-priority.env', 'auth.warn.badValue'],
      ['broken-syntax.json', 'auth.warn.invalidJsonAt'],
      ['broken-syntax.toml', 'auth.warn.invalidTomlAt'],
      ['broken-url.env', 'auth.warn.badBaseUrl'],
      ['dup-of-alpha.env', 'auth.warn.duplicate'],
      ['team/.env', 'auth.warn.envLineMalformed'],
      ['zulu.json', 'auth.warn.labelClash'],
    ]);
    expect(
      reg.duplicates.map((d) => [
        d.file.slice(dir.length + 1),
        d.duplicateOf.slice(dir.length + 1),
      ]),
    ).toEqual([['dup-of-alpha.env', 'alpha.env']]);
  });
});
