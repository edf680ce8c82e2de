// The brief's use cases as bench scenarios, each run over gRPC, REST JSON and REST binary.

import type { DataSpec } from './payload.js';

export interface Scenario {
  /** Short name used in file names and tables. */
  name: string;
  title: string;
  model: string;
  version?: string;
  /** Per input name ('' = every input); absent: from the model's metadata. */
  shapes: Map<string, number[]>;
  data: DataSpec;
}

const one = (dims: number[]) => new Map([['', dims]]);

export const BRIEF_SCENARIOS: Scenario[] = [
  { name: 'features', title: '128-feature vector (my_model)', model: 'my_model', shapes: one([1, 128]), data: { kind: 'random' } },
  { name: 'embedding', title: '768-float embedding (identity_fp32)', model: 'identity_fp32', shapes: one([1, 768]), data: { kind: 'random' } },
  { name: 'image', title: '224×224×3 image, float pixels (resnet_mini)', model: 'resnet_mini', shapes: one([1, 3, 224, 224]), data: { kind: 'random' } },
  { name: 'image-int', title: '224×224×3 image, integer pixels 0..255 as FP32 (resnet_mini)', model: 'resnet_mini', shapes: one([1, 3, 224, 224]), data: { kind: 'pixels' } },
  { name: 'audio', title: '1 s of 16 kHz audio, 16,000 FP32 samples (identity_fp32)', model: 'identity_fp32', shapes: one([1, 16000]), data: { kind: 'random' } },
  { name: 'text', title: 'short text, one BYTES element (identity_bytes)', model: 'identity_bytes', shapes: one([1, 1]), data: { kind: 'text', value: 'Is this review positive or negative? The battery lasts all day.' } },
];

export function briefScenarios(names?: string[]): Scenario[] {
  if (!names || names.length === 0 || (names.length === 1 && names[0] === 'all')) return BRIEF_SCENARIOS;
  return names.map((n) => {
    const s = BRIEF_SCENARIOS.find((x) => x.name === n);
    if (!s) throw new Error(`unknown scenario '${n}'; the scenarios are ${BRIEF_SCENARIOS.map((x) => x.name).join(', ')}`);
    return s;
  });
}
