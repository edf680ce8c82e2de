import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inference } from '../generated/proto.js';
import { applyDefaults, configJson, parseModelConfig, validateModelConfig } from './config.js';

// The example: model_warmup, optimization, parameters and a one-element input list.
const WARM_PBTXT = `
# One message written without [ ], as Triton's own examples do: still a list of one.
backend: "typescript"
name: "warm"
input { name: "TEXT", data_type: TYPE_STRING, dims: -1, allow_ragged_batch: true }
output { name: "IDS", data_type: TYPE_INT64, dims: 2, reshape: { shape: [ 1, 2 ] }, label_filename: "ids.txt" }
max_batch_size: 4
instance_group { count: 1, kind: KIND_CPU }
parameters: { key: "mode", value: { string_value: "fast" } }
optimization {
  execution_accelerators {
    gpu_execution_accelerator [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ]
  }
  cuda { graphs: true }
}
model_warmup [
  {
    name: "zeros"
    batch_size: 2
    inputs { key: "TEXT" value { data_type: TYPE_STRING dims: [ 3 ] zero_data: true } }
  }
]
`;

/** What Triton's /config prints for WARM_PBTXT after Duet's defaults: key order included. */
const WARM_JSON = {
  name: 'warm',
  platform: '',
  backend: 'typescript',
  runtime: '',
  version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 4,
  input: [{
    name: 'TEXT', data_type: 'TYPE_STRING', format: 'FORMAT_NONE', dims: [-1],
    is_shape_tensor: false, allow_ragged_batch: true, optional: false, is_non_linear_format_io: false,
  }],
  output: [{
    name: 'IDS', data_type: 'TYPE_INT64', dims: [2], reshape: { shape: [1, 2] }, label_filename: 'ids.txt',
    is_shape_tensor: false, is_non_linear_format_io: false,
  }],
  batch_input: [],
  batch_output: [],
  optimization: {
    priority: 'PRIORITY_DEFAULT',
    cuda: { graphs: true, busy_wait_events: false, graph_spec: [], output_copy_stream: false },
    execution_accelerators: {
      gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }],
      cpu_execution_accelerator: [],
    },
    input_pinned_memory: { enable: true },
    output_pinned_memory: { enable: true },
    gather_kernel_buffer_threshold: 0,
    eager_batching: false,
  },
  instance_group: [{
    name: 'warm_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '',
  }],
  default_model_filename: '',
  cc_model_filenames: {},
  metric_tags: {},
  parameters: { mode: { string_value: 'fast' } },
  model_warmup: [{ name: 'zeros', batch_size: 2, inputs: { TEXT: { data_type: 'TYPE_STRING', dims: [3], zero_data: true } }, count: 0 }],
};

test("the issue's example prints exactly as Triton's JSON form, key order included", () => {
  const cfg = applyDefaults(parseModelConfig(WARM_PBTXT, 'pbtxt', 'config.pbtxt'), 'warm');
  validateModelConfig(cfg);
  assert.equal(JSON.stringify(configJson(cfg)), JSON.stringify(WARM_JSON));
});

test('the JSON form reads back as the same config, and through the gRPC message unchanged', () => {
  const cfg = applyDefaults(parseModelConfig(WARM_PBTXT, 'pbtxt', 'config.pbtxt'), 'warm');
  const again = parseModelConfig(JSON.stringify(configJson(cfg)), 'json', 'config.json');
  assert.equal(JSON.stringify(configJson(again)), JSON.stringify(WARM_JSON));
  const wire = inference.ModelConfig.encode(inference.ModelConfig.fromObject(configJson(cfg))).finish();
  const back = inference.ModelConfig.toObject(inference.ModelConfig.decode(wire), { longs: Number, enums: String, arrays: true });
  assert.equal(JSON.stringify(configJson(back as never)), JSON.stringify(WARM_JSON));
});

test("64-bit fields: numbers where Triton fixes them up, strings elsewhere", () => {
  const cfg = parseModelConfig(`
    input { name: "I" data_type: TYPE_FP32 dims: [ -1, 3 ] reshape { shape: [ 3, -1 ] } }
    version_policy { specific { versions: [ 1, 2 ] } }
    dynamic_batching {
      max_queue_delay_microseconds: 100 priority_levels: 2 default_priority_level: 1
      default_queue_policy { default_timeout_microseconds: 5 }
      priority_queue_policy { key: 2 value { default_timeout_microseconds: 7 } }
    }
    instance_group { secondary_devices { device_id: 3 } }
    optimization { cuda { graph_spec { input { key: "I" value { dim: [ 8 ] } } } } }
  `, 'pbtxt', 'config.pbtxt');
  const j = configJson(cfg) as unknown as Record<string, any>;
  assert.deepEqual(j.input[0].dims, [-1, 3]);
  assert.deepEqual(j.input[0].reshape, { shape: [3, -1] });
  assert.deepEqual(j.version_policy, { specific: { versions: [1, 2] } });
  assert.deepEqual(j.dynamic_batching, {
    preferred_batch_size: [], max_queue_delay_microseconds: 100, preserve_ordering: false, priority_levels: 2, default_priority_level: 1,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 5, allow_timeout_override: false, max_queue_size: 0 },
    priority_queue_policy: { 2: { timeout_action: 'REJECT', default_timeout_microseconds: 7, allow_timeout_override: false, max_queue_size: 0 } },
  });
  assert.deepEqual(j.instance_group[0].secondary_devices, [{ kind: 'KIND_NVDLA', device_id: '3' }]);
  assert.deepEqual(j.optimization.cuda.graph_spec[0].input, { I: { dim: ['8'] } });
  // Oneof members and unset messages are left out; a set oneof member prints.
  assert.equal('sequence_batching' in j, false);
  assert.equal('model_transaction_policy' in j, false);
});
