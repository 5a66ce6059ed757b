import type { Output } from '../../src/cli/output.js';

/** A CLI output that keeps what a command prints, for running commands in-process. */
export interface CapturedOutput extends Output {
  readonly stdout: string[];
  readonly stderr: string[];
  /** Everything printed, standard output and error interleaved as printed. */
  text(): string;
}

export function captureOutput(): CapturedOutput {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const all: string[] = [];
  const out = (lines: string[]) => (text: string) => {
    lines.push(text);
    all.push(text);
  };
  return {
    stdout,
    stderr,
    json: (value) => out(stdout)(JSON.stringify(value)),
    line: (text = '') => out(stdout)(text),
    table: () => undefined,
    error: out(stderr),
    interactive: false,
    redraw: () => undefined,
    text: () => all.join('\n'),
  };
}
