// renderTable: aligned columns for people; box drawing only when not plain.
import type { Io } from './io.js';

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

// Strip ANSI color codes so widths are measured on visible text.
const ANSI = /\u001b\[[0-9;]*m/g;

export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

function pad(s: string, width: number, align: 'left' | 'right'): string {
  const gap = ' '.repeat(Math.max(0, width - visibleWidth(s)));
  return align === 'right' ? gap + s : s + gap;
}

/** Render rows under headers. Cells may already carry colors; widths ignore them. */
export function renderTable(
  io: Pick<Io, 'plain' | 'paint'>,
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((c, i) =>
    Math.max(visibleWidth(c.header), ...rows.map((r) => visibleWidth(r[i] ?? ''))),
  );
  const line = (cells: readonly string[], sep: string, edge: [string, string]) =>
    edge[0] +
    cells.map((cell, i) => pad(cell, widths[i] ?? 0, columns[i]?.align ?? 'left')).join(sep) +
    edge[1];
  const headers = columns.map((c) => io.paint.bold(c.header));
  if (io.plain) {
    return [line(headers, '  ', ['', '']), ...rows.map((r) => line(r, '  ', ['', '']))]
      .map((l) => l.trimEnd())
      .join('\n');
  }
  const rule = (l: string, m: string, r: string) =>
    l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  return [
    rule('┌', '┬', '┐'),
    line(headers, ' │ ', ['│ ', ' │']),
    rule('├', '┼', '┤'),
    ...rows.map((r) => line(r, ' │ ', ['│ ', ' │'])),
    rule('└', '┴', '┘'),
  ].join('\n');
}
