// A chat as one prompt: the model's chat template, read from its config parameters, so each model can
// say how it expects a conversation laid out. The default is a plain transcript ending in a cue for
// the assistant's turn:
//
//   parameters [
//     { key: "chat_template_prefix",  value: { string_value: "" } },
//     { key: "chat_template_message", value: { string_value: "{role}: {content}\n" } },
//     { key: "chat_template_suffix",  value: { string_value: "assistant:" } }
//   ]
//
// `{role}` and `{content}` are replaced in one pass, so a message that contains them stays as written.

import type { ModelConfig } from '../core/model-config.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export const CHAT_TEMPLATE_PREFIX = 'chat_template_prefix';
export const CHAT_TEMPLATE_MESSAGE = 'chat_template_message';
export const CHAT_TEMPLATE_SUFFIX = 'chat_template_suffix';

export const DEFAULT_CHAT_TEMPLATE = { prefix: '', message: '{role}: {content}\n', suffix: 'assistant:' };

/** The prompt for a chat, laid out by the model's template (an unset part takes the default). */
export function chatPrompt(config: Pick<ModelConfig, 'parameters'>, messages: ChatMessage[]): string {
  const p = (key: string, dflt: string) => config.parameters?.[key]?.string_value ?? dflt;
  const message = p(CHAT_TEMPLATE_MESSAGE, DEFAULT_CHAT_TEMPLATE.message);
  let out = p(CHAT_TEMPLATE_PREFIX, DEFAULT_CHAT_TEMPLATE.prefix);
  for (const m of messages) out += message.replace(/\{(role|content)\}/g, (_x, k: 'role' | 'content') => m[k]);
  return out + p(CHAT_TEMPLATE_SUFFIX, DEFAULT_CHAT_TEMPLATE.suffix);
}
