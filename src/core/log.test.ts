import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, type LoggerOptions } from './log.js';

const at = new Date('2030-01-02T03:04:05.678Z');
function capture(o: LoggerOptions = {}) {
  const lines: string[] = [];
  return { lines, logger: new Logger({ ...o, write: (s) => lines.push(s), now: () => at }) };
}

test('text: ISO time, a tag for every level but info, fields as key=value (quoted when needed)', () => {
  const { lines, logger } = capture({ level: 'verbose' });
  logger.info('listening', { port: 8000 });
  logger.warn('careful');
  logger.error('broken', { why: 'two words', empty: '', skipped: undefined });
  logger.verbose('detail');
  logger.log('via the function');
  logger.log('at a level', 'warn');
  assert.deepEqual(lines, [
    '2030-01-02T03:04:05.678Z listening port=8000\n',
    '2030-01-02T03:04:05.678Z warning: careful\n',
    '2030-01-02T03:04:05.678Z error: broken why="two words" empty=""\n',
    '2030-01-02T03:04:05.678Z verbose: detail\n',
    '2030-01-02T03:04:05.678Z via the function\n',
    '2030-01-02T03:04:05.678Z warning: at a level\n',
  ]);
});

test('json: one object per line, time, level and msg first; fields cannot overwrite them', () => {
  const { lines, logger } = capture({ format: 'json' });
  logger.info('models:\n  a  1  READY', { n: 1, ok: true, none: null, gone: undefined, msg: 'not this', level: 'nor this' });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith('}\n') && !lines[0].slice(0, -1).includes('\n'), 'one line');
  assert.equal(lines[0], '{"time":"2030-01-02T03:04:05.678Z","level":"info","msg":"models:\\n  a  1  READY","n":1,"ok":true,"none":null}\n');
});

test('levels: lines below the chosen level are dropped', () => {
  const seen = (level: LoggerOptions['level']) => {
    const { lines, logger } = capture({ level });
    logger.error('e');
    logger.warn('w');
    logger.info('i');
    logger.verbose('v');
    return lines.map((l) => l.slice(25, -1));
  };
  assert.deepEqual(seen('error'), ['error: e']);
  assert.deepEqual(seen('warn'), ['error: e', 'warning: w']);
  assert.deepEqual(seen(undefined), ['error: e', 'warning: w', 'i']);
  assert.deepEqual(seen('verbose'), ['error: e', 'warning: w', 'i', 'verbose: v']);
  assert.equal(new Logger({ level: 'warn', write: () => {} }).enabled('info'), false);
});
