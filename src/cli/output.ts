/** Everything the CLI prints goes through here: JSON for scripts, aligned text for people. */
export interface Output {
  json(value: unknown): void;
  line(text?: string): void;
  table(rows: readonly object[], columns: readonly string[]): void;
  error(text: string): void;
  /** Whether the output is a terminal a live view can redraw in place. */
  readonly interactive: boolean;
  /** Replaces the screen with `lines` (only when interactive). */
  redraw(lines: readonly string[]): void;
}

export const consoleOutput: Output = {
  json: (value) => console.log(JSON.stringify(value, null, 2)),
  line: (text = '') => console.log(text),
  table: (rows, columns) => console.log(formatTable(rows, columns)),
  error: (text) => console.error(text),
  interactive: process.stdout.isTTY === true,
  // Home the cursor and clear below: the view repaints without scrolling.
  redraw: (lines) => process.stdout.write(`\x1b[H\x1b[J${lines.join('\n')}\n`),
};

export function formatTable(objects: readonly object[], columns: readonly string[]): string {
  if (objects.length === 0) return '(none)';
  const rows = objects as readonly Record<string, unknown>[];
  const cell = (value: unknown): string => (value === null || value === undefined ? '-' : Array.isArray(value) ? value.join(',') : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const render = (values: string[]): string => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [render(columns.map((c) => c.toUpperCase())), ...rows.map((row) => render(columns.map((c) => cell(row[c]))))].join('\n');
}

/** Label and value pairs, one a line, the values aligned in one column. */
export function formatFields(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
