import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GenerateChunk } from './conventions.js';
import { stopAt } from './stop.js';

const chunk = (text: string, finishReason?: string) => ({ text, finishReason }) as GenerateChunk;

async function run(texts: (string | [string, string])[], stops: string[]) {
  let closed = false;
  let made = 0;
  async function* source() {
    try {
      for (const t of texts) {
        made++;
        yield Array.isArray(t) ? chunk(t[0], t[1]) : chunk(t);
      }
    } finally {
      closed = true;
    }
  }
  const out: [string, string | undefined][] = [];
  for await (const c of stopAt(source(), stops)) out.push([c.text, c.finishReason]);
  return { out, closed, made };
}

test('a stop string across chunks is cut with everything after it, and the model\'s stream is closed early', async () => {
  const r = await run(['ab', 'ab', 'ab', 'ab'], ['ba']);
  assert.deepEqual(r.out, [['a', undefined], ['', 'stop']]);
  assert.equal(r.made, 2);
  assert.ok(r.closed);
});

test('held-back text that turns out not to start a stop string is sent', async () => {
  const r = await run(['hel', 'lo w', ['orld', 'length']], ['lo w', 'xyz']);
  assert.deepEqual(r.out, [['he', undefined], ['l', 'stop']]);
  const s = await run(['wor', 'ds', ['!', 'length']], ['wordy']);
  assert.equal(s.out.map((x) => x[0]).join(''), 'words!');
  assert.deepEqual(s.out.at(-1)?.[1], 'length');
});

test('text still held back when the model ends without a finish reason comes out at the end', async () => {
  const r = await run(['abc', 'd'], ['de']);
  assert.deepEqual(r.out, [['abc', undefined], ['', undefined], ['d', undefined]]);
});

test('the earliest of several stop strings wins', async () => {
  const r = await run(['one two three'], ['three', 'two']);
  assert.deepEqual(r.out, [['one ', 'stop']]);
});
