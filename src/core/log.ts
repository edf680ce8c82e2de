// The server's log: four levels, plain text for people or one JSON object per line for collectors.
// Whatever writes log lines takes a LogFn, so a plain `(line) => ...` (tests) fits where a Logger does.

export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_LOG_FORMAT: LogFormat = 'text';

/** Structured details of a line: JSON keeps them as keys, text appends them as key=value. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** One line at `level` (default info). */
export type LogFn = (msg: string, level?: LogLevel, fields?: LogFields) => void;

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, verbose: 3 };
/** Text lines tag every level but info, so the usual startup lines read as before. */
const TAG: Record<LogLevel, string> = { error: 'error: ', warn: 'warning: ', info: '', verbose: 'verbose: ' };

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (default stdout); each call gets one whole line with its newline. */
  write?: (line: string) => void;
  now?: () => Date;
}

export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  private readonly max: number;
  private readonly write: (line: string) => void;
  private readonly now: () => Date;
  /** This logger as a LogFn, for components that take one. */
  readonly log: LogFn = (msg, level = 'info', fields) => this.line(level, msg, fields);

  constructor(o: LoggerOptions = {}) {
    this.level = o.level ?? DEFAULT_LOG_LEVEL;
    this.format = o.format ?? DEFAULT_LOG_FORMAT;
    this.max = RANK[this.level];
    this.write = o.write ?? ((s) => process.stdout.write(s));
    this.now = o.now ?? (() => new Date());
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= this.max;
  }

  error(msg: string, fields?: LogFields): void {
    this.line('error', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.line('warn', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.line('info', msg, fields);
  }

  verbose(msg: string, fields?: LogFields): void {
    this.line('verbose', msg, fields);
  }

  line(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] > this.max) return;
    const time = this.now().toISOString();
    if (this.format === 'json') {
      // time, level and msg first; a field cannot overwrite them.
      this.write(`${JSON.stringify({ ...fields, time, level, msg }, ['time', 'level', 'msg', ...Object.keys(fields ?? {}).filter((k) => !(k in FIXED))])}\n`);
      return;
    }
    this.write(`${time} ${TAG[level]}${msg}${fields ? textFields(fields) : ''}\n`);
  }
}

const FIXED = { time: 1, level: 1, msg: 1 };

/** ` key=value` for each field given; values with spaces or quotes are JSON-quoted. */
function textFields(fields: LogFields): string {
  let s = '';
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    const t = String(v);
    s += ` ${k}=${t === '' || /[\s"=]/.test(t) ? JSON.stringify(t) : t}`;
  }
  return s;
}
