import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatPrompt } from './chat.js';

const chat = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi {role}' }];
const params = (o: Record<string, string>) => ({ parameters: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { string_value: v }])) });

test('the default template is a transcript ending in the assistant cue', () => {
  assert.equal(chatPrompt({}, chat), 'system: Be brief.\nuser: Hi {role}\nassistant:');
});

test('each part of the template can be set from the model config; an empty suffix is kept empty', () => {
  const config = params({ chat_template_prefix: '<s>', chat_template_message: '[{role}] {content}|', chat_template_suffix: '' });
  assert.equal(chatPrompt(config, chat), '<s>[system] Be brief.|[user] Hi {role}|');
});

test('placeholders inside messages are not expanded again', () => {
  assert.equal(chatPrompt(params({ chat_template_message: '{content}' }), [{ role: 'user', content: '{content}{role}' }]), '{content}{role}assistant:');
});
