import { describe, expect, it } from 'vitest';
import { parseEnv } from './env.js';

describe('parseEnv', () => {
  it('reads plain, exported, quoted and commented values', () => {
    const { values, warnings } = parseEnv(
      [
        '# comment',
        '',
        'A=1',
        'export B=two words # trailing comment',
        'C="double \\"quoted\\" \\n value" # c',
        "D='single # not a comment'",
        'E=',
        'F=a#b',
      ].join('\n'),
    );
    expect(warnings).toEqual([]);
    expect(values).toEqual({
      A: '1',
      B: 'two words',
      C: 'double "quoted" \n value',
      D: 'single # not a comment',
      E: '',
      F: 'a#b',
    });
  });

  it('handles CRLF and a UTF-8 BOM', () => {
    const { values } = parseEnv('\uFEFFA=1\r\nB=2\r\n');
    expect(values).toEqual({ A: '1', B: '2' });
  });

  it('reports malformed lines with their line number and keeps the rest', () => {
    const { values, warnings } = parseEnv('A=1\nthis is not an assignment\nB="unterminated\nC=3\n');
    expect(values).toEqual({ A: '1', C: '3' });
    expect(warnings.map((w) => w.line)).toEqual([2, 3]);
  });

  it('never echoes a quoted value in a warning', () => {
    const { warnings } = parseEnv('KMI_API_KEY="sk-secretsecretsecret\n');
    expect(JSON.stringify(warnings)).not.toContain('sk-secret');
  });
});
