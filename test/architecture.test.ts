// Guards on the code's shape: only bin.ts exits; domain modules never import the CLI; docs list every variable.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../src/config/schema.js';
import { REPO_ROOT } from './helpers/kmi.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const SRC = join(REPO_ROOT, 'src');

describe('architecture', () => {
  it('calls process.exit only in src/bin.ts', () => {
    const offenders = sources(SRC)
      .filter((f) => !/src\/bin(-kimi-robin)?\.ts$/.test(f))
      .filter((f) => /process\.exit\s*\(/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });

  it('keeps domain modules free of cli imports', () => {
    const domain = sources(SRC).filter((f) => !/src\/(cli|bin|ui)/.test(f));
    const offenders = domain.filter((f) => /from '\.\.\/cli\//.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });

  it('documents every KMI_* variable with its default in README.md and .env.example', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const example = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
    for (const v of VARIABLES) {
      expect(readme, v.name).toContain(`\`${v.name}\``);
      expect(example, v.name).toMatch(new RegExp(`^#? ?${v.name}=`, 'm'));
    }
  });
});
