// The model configuration, shaped like Triton's model_config.proto in its JSON form
// (snake_case keys, enum values as strings), which is what REST /config returns.

export type ConfigDataType =
  | 'TYPE_BOOL' | 'TYPE_UINT8' | 'TYPE_UINT16' | 'TYPE_UINT32' | 'TYPE_UINT64'
  | 'TYPE_INT8' | 'TYPE_INT16' | 'TYPE_INT32' | 'TYPE_INT64'
  | 'TYPE_FP16' | 'TYPE_FP32' | 'TYPE_FP64' | 'TYPE_STRING';

export interface ModelInputConfig {
  name: string;
  data_type: ConfigDataType;
  format?: string;
  dims: number[];
  reshape?: { shape: number[] };
  is_shape_tensor?: boolean;
  allow_ragged_batch?: boolean;
  optional?: boolean;
}

export interface ModelOutputConfig {
  name: string;
  data_type: ConfigDataType;
  dims: number[];
  reshape?: { shape: number[] };
  label_filename?: string;
  is_shape_tensor?: boolean;
}

export type InstanceKind = 'KIND_AUTO' | 'KIND_CPU' | 'KIND_GPU' | 'KIND_MODEL';

export interface InstanceGroupConfig {
  name?: string;
  kind: InstanceKind;
  count: number;
  gpus?: number[];
}

export interface QueuePolicyConfig {
  timeout_action?: 'REJECT' | 'DELAY';
  default_timeout_microseconds?: number;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface DynamicBatchingConfig {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
  priority_levels?: number;
  default_priority_level?: number;
  default_queue_policy?: QueuePolicyConfig;
  priority_queue_policy?: Record<string, QueuePolicyConfig>;
}

export type VersionPolicyConfig =
  | { latest: { num_versions: number } }
  | { all: Record<string, never> }
  | { specific: { versions: number[] } };

export interface ModelConfig {
  name: string;
  platform?: string;
  backend?: string;
  version_policy?: VersionPolicyConfig;
  max_batch_size: number;
  input: ModelInputConfig[];
  output: ModelOutputConfig[];
  instance_group?: InstanceGroupConfig[];
  dynamic_batching?: DynamicBatchingConfig;
  parameters?: Record<string, { string_value: string }>;
  model_transaction_policy?: { decoupled: boolean };
  default_model_filename?: string;
  [extra: string]: unknown;
}

/** A tensor as a model file declares it; -1 marks a dimension of any size. */
export interface IoMeta {
  name: string;
  datatype: import('./datatypes.js').DataType;
  shape: number[];
}
