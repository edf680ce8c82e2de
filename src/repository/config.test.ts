import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../core/model-config.js';
import { CONFIG_TO_KSERVE, KSERVE_TO_CONFIG, parseModelConfig } from './config.js';
import { applyDefaults, validateModelConfig } from './config.js';

const pbtxt = (text: string): ModelConfig => parseModelConfig(text, 'pbtxt', 'config.pbtxt');
const json = (value: unknown): ModelConfig => parseModelConfig(JSON.stringify(value), 'json', 'config.json');

function parseFails(text: string, message: string | RegExp, format: 'pbtxt' | 'json' = 'pbtxt'): void {
  const file = format === 'pbtxt' ? 'config.pbtxt' : 'config.json';
  assert.throws(() => parseModelConfig(text, format, file), { message });
}

const REALISTIC = `
# Image classifier served by the ONNX backend.
name: "resnet"
backend: "onnxruntime"
max_batch_size: 32
version_policy: { specific: { versions: [1, 3] } }
input [
  {
    name: "INPUT__0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
  },
  {
    name: "FLAT"
    data_type: TYPE_UINT8
    dims: [ 12 ]
    reshape: { shape: [ 3, 4 ] }
    optional: true
  }
]
output [
  {
    name: "OUTPUT__0"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    label_filename: "labels.txt"
  }
]
instance_group [
  { name: "cpu_pool" count: 2 kind: KIND_CPU },
  { kind: KIND_GPU count: 1 gpus: [ 0, 1 ] }
]
dynamic_batching {
  preferred_batch_size: [ 8, 16 ]
  max_queue_delay_microseconds: 100
  preserve_ordering: true
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy {
    timeout_action: DELAY
    default_timeout_microseconds: 50000
    allow_timeout_override: true
    max_queue_size: 64
  }
  priority_queue_policy {
    key: 1
    value: { timeout_action: REJECT max_queue_size: 8 }
  }
  priority_queue_policy: {
    key: 2
    value { default_timeout_microseconds: 9007199254740991 }
  }
}
parameters { key: "intra_op_thread_count" value: { string_value: "4" } }
parameters: { key: "execution_mode", value { string_value: "parallel" } }
model_transaction_policy { decoupled: true }
default_model_filename: "model.onnx"
`;

const REALISTIC_EXPECTED: ModelConfig = {
  name: 'resnet',
  backend: 'onnxruntime',
  version_policy: { specific: { versions: [1, 3] } },
  max_batch_size: 32,
  input: [
    { name: 'INPUT__0', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224] },
    { name: 'FLAT', data_type: 'TYPE_UINT8', dims: [12], reshape: { shape: [3, 4] }, optional: true },
  ],
  output: [{ name: 'OUTPUT__0', data_type: 'TYPE_FP32', dims: [1000], label_filename: 'labels.txt' }],
  dynamic_batching: {
    preferred_batch_size: [8, 16],
    max_queue_delay_microseconds: 100,
    preserve_ordering: true,
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: {
      timeout_action: 'DELAY',
      default_timeout_microseconds: 50000,
      allow_timeout_override: true,
      max_queue_size: 64,
    },
    priority_queue_policy: {
      '1': { timeout_action: 'REJECT', max_queue_size: 8 },
      '2': { default_timeout_microseconds: 9007199254740991 },
    },
  },
  instance_group: [
    { name: 'cpu_pool', count: 2, kind: 'KIND_CPU' },
    { kind: 'KIND_GPU', count: 1, gpus: [0, 1] },
  ],
  default_model_filename: 'model.onnx',
  parameters: {
    intra_op_thread_count: { string_value: '4' },
    execution_mode: { string_value: 'parallel' },
  },
  model_transaction_policy: { decoupled: true },
};

test('a full realistic Triton config.pbtxt', () => {
  const cfg = pbtxt(REALISTIC);
  assert.deepEqual(cfg, REALISTIC_EXPECTED);
  // Proto field order, so a serialized config reads like Triton's.
  assert.deepEqual(Object.keys(cfg), [
    'name', 'backend', 'version_policy', 'max_batch_size', 'input', 'output', 'dynamic_batching',
    'instance_group', 'default_model_filename', 'parameters', 'model_transaction_policy',
  ]);
  const full = applyDefaults(cfg, 'resnet');
  validateModelConfig(full);
  assert.equal(full.input[0]!.format, 'FORMAT_NCHW');
  assert.equal(full.input[1]!.format, 'FORMAT_NONE');
});

test('the same config written as JSON, int64 as strings, gives the same result', () => {
  const cfg = json({
    name: 'resnet',
    backend: 'onnxruntime',
    max_batch_size: 32,
    version_policy: { specific: { versions: ['1', 3] } },
    input: [
      { name: 'INPUT__0', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: ['3', '224', 224] },
      { name: 'FLAT', data_type: 'TYPE_UINT8', dims: [12], reshape: { shape: [3, 4] }, optional: true },
    ],
    output: [{ name: 'OUTPUT__0', data_type: 'TYPE_FP32', dims: [1000], label_filename: 'labels.txt' }],
    instance_group: [
      { name: 'cpu_pool', count: 2, kind: 'KIND_CPU' },
      { kind: 'KIND_GPU', count: 1, gpus: [0, 1] },
    ],
    dynamic_batching: {
      preferred_batch_size: [8, 16],
      max_queue_delay_microseconds: '100',
      preserve_ordering: true,
      priority_levels: '2',
      default_priority_level: '2',
      default_queue_policy: {
        timeout_action: 'DELAY',
        default_timeout_microseconds: '50000',
        allow_timeout_override: true,
        max_queue_size: 64,
      },
      priority_queue_policy: {
        '1': { timeout_action: 'REJECT', max_queue_size: 8 },
        '2': { default_timeout_microseconds: '9007199254740991' },
      },
    },
    parameters: {
      intra_op_thread_count: { string_value: '4' },
      execution_mode: { string_value: 'parallel' },
    },
    model_transaction_policy: { decoupled: true },
    default_model_filename: 'model.onnx',
  });
  assert.deepEqual(cfg, REALISTIC_EXPECTED);
});

test('JSON accepts lowerCamelCase field names, as protobuf JSON does', () => {
  const cfg = json({
    name: 'm',
    maxBatchSize: 4,
    input: [{ name: 'I', dataType: 'TYPE_INT64', dims: [1] }],
    output: [{ name: 'O', dataType: 'TYPE_STRING', dims: [1], labelFilename: 'l.txt' }],
    dynamicBatching: { maxQueueDelayMicroseconds: 7 },
    modelTransactionPolicy: { decoupled: false },
  });
  assert.deepEqual(cfg, {
    name: 'm',
    max_batch_size: 4,
    input: [{ name: 'I', data_type: 'TYPE_INT64', dims: [1] }],
    output: [{ name: 'O', data_type: 'TYPE_STRING', dims: [1], label_filename: 'l.txt' }],
    dynamic_batching: { max_queue_delay_microseconds: 7 },
    model_transaction_policy: { decoupled: false },
  });
});

test('singular fields: the last value wins; repeated fields accumulate', () => {
  const cfg = pbtxt(`
    name: "first" name: "second"
    max_batch_size: 1 max_batch_size: 4
    input { name: "I" data_type: TYPE_FP32 data_type: TYPE_INT32 dims: 1 dims: [2, 3] dims: 4 }
    input [ { name: "J" data_type: TYPE_BOOL } ]
  `);
  assert.equal(cfg.name, 'second');
  assert.equal(cfg.max_batch_size, 4);
  assert.deepEqual(cfg.input, [
    { name: 'I', data_type: 'TYPE_INT32', dims: [1, 2, 3, 4] },
    { name: 'J', data_type: 'TYPE_BOOL', dims: [] },
  ]);
  assert.deepEqual(cfg.output, []);
});

test('fields not written stay absent until applyDefaults', () => {
  const cfg = pbtxt('input { name: "I" data_type: TYPE_FP32 dims: 1 }');
  assert.deepEqual(cfg, { input: [{ name: 'I', data_type: 'TYPE_FP32', dims: [1] }], output: [] });
  assert.equal('max_batch_size' in cfg, false);
  assert.equal('name' in cfg, false);
});

test('enums may be given by number, bools as 0/1', () => {
  const cfg = pbtxt(`
    input { name: "I" data_type: 11 format: 2 dims: 1 is_shape_tensor: 0 allow_ragged_batch: 1 }
    instance_group { kind: 1 count: 1 }
    dynamic_batching { default_queue_policy { timeout_action: 1 } }
    model_transaction_policy { decoupled: t }
  `);
  // The numbers of model_config.proto: FORMAT_NHWC = 1, FORMAT_NCHW = 2.
  assert.deepEqual(cfg.input[0], {
    name: 'I', data_type: 'TYPE_FP32', format: 'FORMAT_NCHW', dims: [1], is_shape_tensor: false, allow_ragged_batch: true,
  });
  assert.equal(cfg.instance_group![0]!.kind, 'KIND_GPU');
  assert.equal(cfg.dynamic_batching!.default_queue_policy!.timeout_action, 'DELAY');
  assert.deepEqual(cfg.model_transaction_policy, { decoupled: true });
  // JSON enum names are case-insensitive, as Triton parses them.
  assert.equal(json({ input: [{ name: 'I', data_type: 'type_fp32' }] }).input[0]!.data_type, 'TYPE_FP32');
});

test('a one-element repeated field is a list; a map is a map', () => {
  const cfg = pbtxt(`
    input { name: "I" data_type: TYPE_FP32 dims: 4 }
    instance_group { kind: KIND_CPU gpus: 0 }
    model_warmup { name: "w" inputs { key: "I" value { data_type: TYPE_FP32 dims: 4 zero_data: true } } }
    optimization { execution_accelerators { cpu_execution_accelerator { name: "openvino" } } }
    metric_tags { key: "team" value: "vision" }
  `);
  assert.deepEqual(cfg.input, [{ name: 'I', data_type: 'TYPE_FP32', dims: [4] }]);
  assert.deepEqual(cfg.instance_group, [{ kind: 'KIND_CPU', gpus: [0] }]);
  assert.deepEqual(cfg.model_warmup, [{ name: 'w', inputs: { I: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }]);
  assert.deepEqual(cfg.optimization, { execution_accelerators: { cpu_execution_accelerator: [{ name: 'openvino' }] } });
  assert.deepEqual(cfg.metric_tags, { team: 'vision' });
});

test('every field of the schema is read, nested ones too', () => {
  const cfg = pbtxt(`
    name: "seq"
    runtime: "model.py"
    sequence_batching {
      max_sequence_idle_microseconds: 5000000
      control_input [
        { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ] },
        { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] }
      ]
    }
    instance_group { count: 1 kind: KIND_CPU rate_limiter { resources [ { name: "R1" count: 4 } ] } }
  `);
  assert.equal(cfg.runtime, 'model.py');
  assert.deepEqual(cfg.sequence_batching, {
    max_sequence_idle_microseconds: 5000000,
    control_input: [
      { name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', fp32_false_true: [0, 1] }] },
      { name: 'READY', control: [{ kind: 'CONTROL_SEQUENCE_READY', int32_false_true: [0, 1] }] },
    ],
  });
  assert.deepEqual(cfg.instance_group![0], { kind: 'KIND_CPU', count: 1, rate_limiter: { resources: [{ name: 'R1', count: 4 }] } });
  // Schema order, whatever order the file used.
  assert.deepEqual(Object.keys(cfg), ['name', 'runtime', 'input', 'output', 'sequence_batching', 'instance_group']);
});

test('unknown fields are rejected with the line and the field path', () => {
  parseFails('name: "m"\ninstance_group [\n  {\n    kindd: KIND_CPU\n  }\n]',
    "config.pbtxt:4: unknown field 'instance_group.kindd' in ModelInstanceGroup (did you mean 'kind'?)");
  parseFails('name: "m"\n\nwarmup { }', "config.pbtxt:3: unknown field 'warmup' in ModelConfig");
  parseFails('input { name: "I" data_type: TYPE_FP32 dims: 1 reshape { shapes: 1 } }',
    "config.pbtxt:1: unknown field 'input.reshape.shapes' in ModelTensorReshape (did you mean 'shape'?)");
  parseFails(JSON.stringify({ name: 'm', model_warmup: [{ inputs: { I: { zero: true } } }] }),
    "config.json: unknown field 'model_warmup.inputs.zero' in Input", 'json');
  parseFails(JSON.stringify({ customThing: 'x' }), "config.json: unknown field 'customThing' in ModelConfig", 'json');
});

test('JSON accepts proto and lowerCamelCase names, int64 as strings, null as absent', () => {
  const cfg = json({ maxBatchSize: 2, input: [{ name: 'I', dataType: 'TYPE_FP32', dims: ['3', 4] }], dynamic_batching: null });
  assert.deepEqual(cfg, { max_batch_size: 2, input: [{ name: 'I', data_type: 'TYPE_FP32', dims: [3, 4] }], output: [] });
  parseFails('{"max_batch_size": 1, "maxBatchSize": 2}', 'config.json: max_batch_size: given twice (as its proto name and its JSON name)', 'json');
});

test('parameters: all map spellings, last duplicate wins, missing value is an empty message', () => {
  const cfg = pbtxt(`
    parameters [ { key: "a" value { string_value: "1" } }, { key: "b" value { string_value: "2" } } ]
    parameters < key: "a" value < string_value: "3" > >
    parameters { key: "empty" }
    parameters { key: "__proto__" value { string_value: "safe" } }
  `);
  assert.deepEqual(Object.keys(cfg.parameters!), ['a', 'b', 'empty', '__proto__']);
  assert.deepEqual(cfg.parameters!['a'], { string_value: '3' });
  assert.deepEqual(cfg.parameters!['b'], { string_value: '2' });
  assert.deepEqual(cfg.parameters!['empty'], {});
  assert.deepEqual(Object.getOwnPropertyDescriptor(cfg.parameters, '__proto__')!.value, { string_value: 'safe' });
  assert.equal(Object.getPrototypeOf(cfg.parameters), Object.prototype);
});

test('version_policy: latest, all, specific', () => {
  assert.deepEqual(pbtxt('version_policy: { latest: { num_versions: 2 } }').version_policy, { latest: { num_versions: 2 } });
  assert.deepEqual(pbtxt('version_policy { all {} }').version_policy, { all: {} });
  assert.deepEqual(pbtxt('version_policy { specific { versions: 1 versions: 4 } }').version_policy, {
    specific: { versions: [1, 4] },
  });
  assert.deepEqual(json({ version_policy: { all: {} } }).version_policy, { all: {} });
  // proto3 default (num_versions 0); validateModelConfig rejects it
  const latest = pbtxt('version_policy { latest {} }');
  assert.deepEqual(latest.version_policy, { latest: {} });
  assert.throws(() => validateModelConfig(applyDefaults({ ...latest, ...pbtxt(MINIMAL) }, 'm')),
    { message: "model 'm': version_policy: latest.num_versions must be >= 1, found 0" });
  assert.throws(() => validateModelConfig(applyDefaults({ ...pbtxt('version_policy { }'), ...pbtxt(MINIMAL) }, 'm')),
    { message: "model 'm': version_policy: must set one of latest, all, specific" });
});

test('type errors name the line, the field path and what was found', () => {
  parseFails('input { name: "INPUT0" data_type: TYPE_FLOAT dims: 1 }',
    "config.pbtxt:1: input[0].data_type: unknown DataType 'TYPE_FLOAT' (expected one of TYPE_INVALID, TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_STRING, TYPE_BF16)");
  parseFails('output { name: "O" data_type: 99 }', /^config\.pbtxt:1: output\[0\]\.data_type: unknown DataType 99 \(expected one of /);
  parseFails('input { name: "I" dims: [1.5] }', 'config.pbtxt:1: input[0].dims[0]: expected an integer, found 1.5');
  parseFails('input {\n name: "I"\n dims: [1,\n "abc"] }', "config.pbtxt:4: input[0].dims[1]: expected an integer, found 'abc'");
  parseFails('input { name: "I" format: FORMAT_XYZ }', /^config\.pbtxt:1: input\[0\]\.format: unknown Format 'FORMAT_XYZ' \(expected one of FORMAT_NONE, FORMAT_NHWC, FORMAT_NCHW\)$/);
  parseFails('input { name: 7 }', 'config.pbtxt:1: input[0].name: expected a string, found 7');
  parseFails('input: 3', 'config.pbtxt:1: input[0]: expected a message { ... }, found 3');
  parseFails('max_batch_size: "eight"', "config.pbtxt:1: max_batch_size: expected an integer, found 'eight'");
  parseFails('max_batch_size: 2147483648', 'config.pbtxt:1: max_batch_size: 2147483648 is out of range for int32');
  parseFails('instance_group { kind: KIND_TPU }', /^config\.pbtxt:1: instance_group\[0\]\.kind: unknown Kind 'KIND_TPU'/);
  parseFails('instance_group [{ count: 1 }, { count: 1.5 }]', 'config.pbtxt:1: instance_group[1].count: expected an integer, found 1.5');
  parseFails('dynamic_batching { max_queue_delay_microseconds: -1 }',
    'config.pbtxt:1: dynamic_batching.max_queue_delay_microseconds: expected a non-negative integer, found -1');
  parseFails('dynamic_batching { preserve_ordering: 2 }', 'config.pbtxt:1: dynamic_batching.preserve_ordering: expected true or false, found 2');
  parseFails('dynamic_batching { priority_queue_policy { key: 1 value { max_queue_size: -4 } } }',
    'config.pbtxt:1: dynamic_batching.priority_queue_policy[1].max_queue_size: expected a non-negative integer, found -4');
  parseFails('dynamic_batching { priority_queue_policy { key: "one" value {} } }',
    "config.pbtxt:1: dynamic_batching.priority_queue_policy key: expected an integer, found 'one'");
  parseFails('dynamic_batching { priority_queue_policy { key: 1 value: 5 } }',
    'config.pbtxt:1: dynamic_batching.priority_queue_policy[1]: expected a message { ... }, found 5');
  parseFails('parameters { key: "a" val { string_value: "x" } }',
    "config.pbtxt:1: parameters: unexpected field 'val' in map entry (only key and value are allowed)");
  parseFails('parameters { value { string_value: "x" } }', 'config.pbtxt:1: parameters: map entry has no key');
  parseFails('parameters: "x"', "config.pbtxt:1: parameters: expected a map entry { key: ... value: ... }, found 'x'");
  parseFails('parameters { key: 3 value { string_value: "x" } }', 'config.pbtxt:1: parameters: key: expected a string, found 3');
  parseFails('parameters { key: "k" value { string_value: 1 } }', "config.pbtxt:1: parameters['k'].string_value: expected a string, found 1");
  parseFails('model_transaction_policy { decoupled: "yes" }', "config.pbtxt:1: model_transaction_policy.decoupled: expected true or false, found 'yes'");
  parseFails('version_policy { latest { num_versions: 1 } all {} }', 'config.pbtxt:1: version_policy: set only one of latest, all, specific (found latest and all)');
  parseFails('dynamic_batching {}\nsequence_batching {}', 'config.pbtxt:2: set only one of dynamic_batching, sequence_batching, ensemble_scheduling (found dynamic_batching and sequence_batching)');
  parseFails('model_warmup { inputs { key: "I" value { zero_data: true random_data: true } } }',
    "config.pbtxt:1: model_warmup[0].inputs['I']: set only one of zero_data, random_data, input_data_file (found zero_data and random_data)");
});

test('syntax errors carry the file name, line and column', () => {
  assert.throws(() => parseModelConfig('name: "m"\ninput {\n  dims }', 'pbtxt', 'models/m/config.pbtxt'), {
    message: "models/m/config.pbtxt:3:8: expected ':' or '{' after field name 'dims', found '}'",
  });
});

test('JSON errors', () => {
  parseFails('{"name": ', 'config.json: invalid JSON: ' + jsonError('{"name": '), 'json');
  parseFails('[1]', 'config.json: expected a JSON object at the top level, found [1]', 'json');
  parseFails('{"max_batch_size": "9007199254740993"}',
    'config.json: max_batch_size: 9007199254740993 is too large (limit is 9007199254740991)', 'json');
  parseFails('{"dynamic_batching": {"priority_levels": "99999999999999999999"}}',
    'config.json: dynamic_batching.priority_levels: 99999999999999999999 is too large (limit is 9007199254740991)', 'json');
  parseFails('{"input": [{"name": "I", "dims": [[1]]}]}', 'config.json: input[0].dims[0]: expected an integer, found [1]', 'json');
  parseFails('{"input": {"name": "I"}}', 'config.json: input: expected a JSON array (a repeated field), found a message', 'json');
  parseFails('{"parameters": ["a"]}', 'config.json: parameters: expected a JSON object mapping keys to values, found ["a"]', 'json');
  parseFails('{"parameters": {"a": "b"}}', "config.json: parameters['a']: expected a message (a JSON object), found 'b'", 'json');
  parseFails('{"input": [{"name": "I", "data_type": "FP32"}]}', /^config\.json: input\[0\]\.data_type: unknown DataType 'FP32'/, 'json');
  // Deep nesting is refused before anything recurses over it (it once failed with "Maximum call stack size exceeded").
  parseFails(`{"x": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'config.json: the config is nested more than 32 levels deep (at x[0][0][0]…)', 'json');
  parseFails(`{"parameters": [${new Array(10_000).fill(1).join(',')}]}`, `config.json: parameters: expected a JSON object mapping keys to values, found [${new Array(50).fill(1).join(',')}…`, 'json');
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected invalid JSON');
}

test('pbtxt integers past 2^53 are rejected rather than rounded', () => {
  parseFails('dynamic_batching { max_queue_delay_microseconds: 18446744073709551615 }',
    'config.pbtxt:1: dynamic_batching.max_queue_delay_microseconds: 18446744073709551615 is too large (limit is 9007199254740991)');
});

// --- applyDefaults ---

const MINIMAL = 'input { name: "I" data_type: TYPE_FP32 dims: [4] }\noutput { name: "O" data_type: TYPE_FP32 dims: [4] }';

test('applyDefaults fills Triton defaults on a minimal config', () => {
  const cfg = applyDefaults(pbtxt(MINIMAL), 'mymodel');
  assert.deepEqual(cfg, {
    name: 'mymodel',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 0,
    input: [{ name: 'I', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4] }],
    output: [{ name: 'O', data_type: 'TYPE_FP32', dims: [4] }],
    optimization: { input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true } },
    instance_group: [{ name: 'mymodel', kind: 'KIND_CPU', count: 1 }],
  });
  assert.deepEqual(Object.keys(cfg), ['name', 'version_policy', 'max_batch_size', 'input', 'output', 'optimization', 'instance_group']);
  assert.deepEqual(Object.keys(cfg.input[0]!), ['name', 'data_type', 'format', 'dims']);
  validateModelConfig(cfg);
});

test('applyDefaults keeps what the user wrote and does not modify its argument', () => {
  const parsed = pbtxt(`name: "other" max_batch_size: 2 version_policy { all {} } ${MINIMAL}
    instance_group [ { count: 3 }, { kind: KIND_GPU }, { kind: KIND_MODEL count: 2 } ]`);
  const snapshot = structuredClone(parsed);
  const cfg = applyDefaults(parsed, 'dirname');
  assert.equal(cfg.name, 'other');
  assert.equal(cfg.max_batch_size, 2);
  assert.deepEqual(cfg.version_policy, { all: {} });
  assert.deepEqual(cfg.instance_group, [
    { name: 'other_0', count: 3, kind: 'KIND_CPU' },
    { name: 'other_1', kind: 'KIND_GPU', count: 1 },
    { name: 'other_2', kind: 'KIND_MODEL', count: 2 },
  ]);
  assert.deepEqual(parsed, snapshot);
  assert.notEqual(cfg.input, parsed.input);
});

test('applyDefaults as Triton normalizes: KIND_AUTO runs on the CPU; dynamic batching prefers max_batch_size', () => {
  const cfg = applyDefaults(pbtxt(`${MINIMAL} max_batch_size: 8 instance_group { kind: KIND_AUTO } dynamic_batching { max_queue_delay_microseconds: 5 }`), 'm');
  assert.equal(cfg.instance_group![0]!.kind, 'KIND_CPU');
  assert.deepEqual(cfg.dynamic_batching, { preferred_batch_size: [8], max_queue_delay_microseconds: 5 });
  assert.deepEqual(Object.keys(cfg.dynamic_batching!), ['preferred_batch_size', 'max_queue_delay_microseconds']);
  const written = applyDefaults(pbtxt(`${MINIMAL} max_batch_size: 8 dynamic_batching { preferred_batch_size: 4 }`), 'm');
  assert.deepEqual(written.dynamic_batching, { preferred_batch_size: [4] });
  validateModelConfig(cfg);
});

test('applyDefaults: empty name and empty instance_group count as missing', () => {
  const cfg = applyDefaults({ name: '', max_batch_size: 0, input: [], output: [], instance_group: [] }, 'm');
  assert.equal(cfg.name, 'm');
  assert.deepEqual(cfg.instance_group, [{ name: 'm', kind: 'KIND_CPU', count: 1 }]);
});

test('applyDefaults keeps an explicit count of 0 so validation can reject it', () => {
  const cfg = applyDefaults(pbtxt(`${MINIMAL} instance_group { count: 0 }`), 'm');
  assert.deepEqual(cfg.instance_group, [{ name: 'm_0', count: 0, kind: 'KIND_CPU' }]);
  assert.throws(() => validateModelConfig(cfg), { message: "model 'm': instance_group[0]: count must be >= 1, found 0" });
});

// --- validateModelConfig ---

function valid(): ModelConfig {
  return applyDefaults(pbtxt(`
    name: "m" max_batch_size: 8
    input [ { name: "A" data_type: TYPE_FP32 dims: [-1, 4] }, { name: "B" data_type: TYPE_INT32 dims: [6] reshape { shape: [2, 3] } } ]
    output [ { name: "C" data_type: TYPE_FP32 dims: [4] } ]
    dynamic_batching { preferred_batch_size: [4, 8] priority_levels: 3 default_priority_level: 2
      priority_queue_policy { key: 3 value { max_queue_size: 1 } } }
  `), 'm');
}

function invalid(mutate: (cfg: ModelConfig) => void, message: string): void {
  const cfg = valid();
  mutate(cfg);
  assert.throws(() => validateModelConfig(cfg), { message });
}

test('validateModelConfig accepts a good config', () => {
  assert.doesNotThrow(() => validateModelConfig(valid()));
  // -1 in dims skips the reshape element count check.
  const cfg = valid();
  cfg.input[1]!.dims = [-1];
  assert.doesNotThrow(() => validateModelConfig(cfg));
});

test('validateModelConfig rejects each kind of mistake', () => {
  invalid((c) => { c.input = []; }, "model 'm': no inputs (the config must list at least one input)");
  invalid((c) => { c.output = []; }, "model 'm': no outputs (the config must list at least one output)");
  invalid((c) => { c.input[1]!.name = 'A'; }, "model 'm': duplicate input name 'A'");
  invalid((c) => { c.output.push({ ...c.output[0]! }); }, "model 'm': duplicate output name 'C'");
  invalid((c) => { c.input[0]!.name = ''; }, "model 'm': input #1 has no name");
  invalid((c) => { c.max_batch_size = -1; }, "model 'm': max_batch_size must be an integer >= 0, found -1");
  invalid((c) => { c.instance_group![0]!.count = 0; }, "model 'm': instance_group[0]: count must be >= 1, found 0");
  invalid((c) => { c.instance_group![0]!.kind = 'KIND_X' as never; }, "model 'm': instance_group[0]: unknown kind 'KIND_X'");
  invalid((c) => { c.dynamic_batching!.preferred_batch_size = [4, 16]; },
    "model 'm': dynamic_batching: preferred_batch_size 16 is larger than max_batch_size 8");
  invalid((c) => { c.dynamic_batching!.preferred_batch_size = [0]; }, "model 'm': dynamic_batching: preferred_batch_size 0 must be >= 1");
  invalid((c) => { c.max_batch_size = 0; }, "model 'm': dynamic_batching needs max_batch_size > 0 (the model does not batch)");
  invalid((c) => { c.input[1]!.dims = [7]; }, "model 'm': input 'B': reshape shape [2,3] has 6 elements but dims [7] has 7");
  invalid((c) => { c.output[0]!.reshape = { shape: [5] }; }, "model 'm': output 'C': reshape shape [5] has 5 elements but dims [4] has 4");
  invalid((c) => { delete (c.input[0] as Partial<ModelConfig['input'][0]>).data_type; }, "model 'm': input 'A': missing data_type");
  invalid((c) => { c.output[0]!.data_type = 'TYPE_FLOAT' as never; }, "model 'm': output 'C': unknown data_type 'TYPE_FLOAT'");
  invalid((c) => { c.input[0]!.dims = [-2]; }, "model 'm': input 'A': dims must be integers >= -1, found [-2]");
  invalid((c) => { c.input[0]!.format = 'FORMAT_X'; }, "model 'm': input 'A': unknown format 'FORMAT_X'");
  invalid((c) => { c.dynamic_batching!.default_priority_level = 4; },
    "model 'm': dynamic_batching: default_priority_level 4 must be in [1, 3] when priority_levels is set");
  invalid((c) => { c.dynamic_batching!.priority_queue_policy = { '0': {} }; },
    "model 'm': dynamic_batching: priority_queue_policy level 0 is outside [1, priority_levels=3]");
  invalid((c) => { c.version_policy = { latest: { num_versions: 0 } }; },
    "model 'm': version_policy: latest.num_versions must be >= 1, found 0");
  invalid((c) => { c.version_policy = { specific: { versions: [] } }; }, "model 'm': version_policy: specific.versions lists no versions");
});

test('validateModelConfig does not compare the name with anything', () => {
  const cfg = valid();
  cfg.name = 'not-the-directory';
  assert.doesNotThrow(() => validateModelConfig(cfg));
});

// --- datatype tables ---

test('CONFIG_TO_KSERVE and KSERVE_TO_CONFIG are inverse tables', () => {
  assert.equal(CONFIG_TO_KSERVE.TYPE_FP32, 'FP32');
  assert.equal(CONFIG_TO_KSERVE.TYPE_STRING, 'BYTES');
  assert.equal(CONFIG_TO_KSERVE.TYPE_BOOL, 'BOOL');
  assert.equal(KSERVE_TO_CONFIG['BYTES'], 'TYPE_STRING');
  assert.equal(KSERVE_TO_CONFIG['UINT64'], 'TYPE_UINT64');
  assert.equal(Object.keys(CONFIG_TO_KSERVE).length, 13);
  for (const [c, k] of Object.entries(CONFIG_TO_KSERVE)) {
    assert.equal(KSERVE_TO_CONFIG[k], c);
    assert.equal(c, `TYPE_${k === 'BYTES' ? 'STRING' : k}`);
  }
  assert.equal(KSERVE_TO_CONFIG['STRING'], undefined);
  assert.equal(KSERVE_TO_CONFIG['BF16'], undefined);
  assert.equal(KSERVE_TO_CONFIG['constructor'], undefined);
  assert.ok(Object.isFrozen(CONFIG_TO_KSERVE) && Object.isFrozen(KSERVE_TO_CONFIG));
});

test('instance_group defaults: half the cores on CPU (at least one), one on GPU', async () => {
  const { availableParallelism } = await import('node:os');
  const { applyDefaults, defaultInstanceCount } = await import('./config-defaults.js');
  const want = Math.max(1, Math.floor(availableParallelism() / 2));
  assert.equal(defaultInstanceCount('KIND_CPU'), want);
  assert.equal(defaultInstanceCount('KIND_GPU'), 1);
  const cfg = applyDefaults({ name: 'm', input: [], output: [], max_batch_size: 0 } as never, 'm');
  assert.deepEqual(cfg.instance_group, [{ name: 'm', kind: 'KIND_CPU', count: want }]);
});

test('a default instance count stays within the server cap; a written count is kept as written', () => {
  const cfg = applyDefaults({ name: 'm', input: [], output: [], max_batch_size: 0, instance_group: [{ kind: 'KIND_CPU' }, { count: 9 }] } as never, 'm', 1);
  assert.deepEqual(cfg.instance_group?.map((g) => g.count), [1, 9]);
  assert.deepEqual(applyDefaults({ name: 'm', input: [], output: [] } as never, 'm', 1).instance_group, [{ name: 'm', kind: 'KIND_CPU', count: 1 }]);
});
