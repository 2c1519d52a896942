import { describe, expect, it } from 'vitest';
import { catalogues, t } from './index.js';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('message catalogue', () => {
  it('has the same keys in en and ru', () => {
    expect(Object.keys(catalogues.ru).sort()).toEqual(Object.keys(catalogues.en).sort());
  });

  it('uses the same placeholders in both languages', () => {
    for (const [key, en] of Object.entries(catalogues.en)) {
      expect(placeholders(catalogues.ru[key] ?? ''), key).toEqual(placeholders(en));
    }
  });

  it('translates every sentence (single words such as JSON literals may stay)', () => {
    const untranslated = Object.entries(catalogues.ru).filter(
      ([key, ru]) => ru === catalogues.en[key] && /[A-Za-z]{3,} [A-Za-z]{3,}/.test(ru),
    );
    expect(untranslated.map(([k]) => k)).toEqual([]);
  });

  it('fills placeholders, including nested message references', () => {
    expect(
      t('config.invalid', { name: 'X', expected: { ref: 'config.expect.int' }, got: 'y' }),
    ).toBe('X must be a whole number ≥ 0 (got "y")');
    expect(
      t('config.invalid', { name: 'X', expected: { ref: 'config.expect.int' }, got: 'y' }, 'ru'),
    ).toContain('целым числом');
  });
});
