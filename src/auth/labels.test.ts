import { describe, expect, it } from 'vitest';
import { LabelAllocator, labelFromPath } from './labels.js';

describe('labelFromPath', () => {
  it.each([
    ['alpha.json.bak', 'alpha'],
    ['alpha.json', 'alpha'],
    ['bob.env', 'bob'],
    ['carol.toml', 'carol'],
    ['ALPHA.ENV', 'ALPHA'],
    ['team.alpha.env', 'team.alpha'],
    ['work_config.toml', 'work'],
    ['work-config.json.bak', 'work'],
    ['Work_CONFIG.toml', 'Work'],
    ['config.toml', 'config'],
    ['_config.toml', '_config'],
    ['.env', 'env'],
    ['team/.env', 'team'],
    ['team_config/.env', 'team'],
    ['team/dave.env', 'dave'],
  ])('%s → %s', (path, label) => {
    expect(labelFromPath(path)).toBe(label);
  });
});

describe('LabelAllocator', () => {
  it('keeps the first label and numbers later clashes from -2', () => {
    const labels = new LabelAllocator();
    expect(labels.claim('a', 'one')).toEqual({ label: 'a', clashWith: null });
    expect(labels.claim('a', 'two')).toEqual({ label: 'a-2', clashWith: 'one' });
    expect(labels.claim('a', 'three')).toEqual({ label: 'a-3', clashWith: 'one' });
    expect(labels.claim('b', 'four')).toEqual({ label: 'b', clashWith: null });
  });

  it('never hands out a label twice, even when a file asks for a generated one', () => {
    const labels = new LabelAllocator();
    labels.claim('a', 'one');
    labels.claim('a', 'two'); // a-2
    expect(labels.claim('a-2', 'three')).toEqual({ label: 'a-2-2', clashWith: 'two' });
    expect(labels.claim('a', 'four')).toEqual({ label: 'a-3', clashWith: 'one' });
  });
});
