// The model config schema, by reflection over proto/model_config.proto: the build writes it as a protobufjs
// JSON descriptor (scripts/build.mjs), so config files are read and printed from the same .proto the gRPC
// ModelConfig message is generated from, with no hand-kept field lists.

import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const descriptor = JSON.parse(readFileSync(new URL('../generated/model_config.json', import.meta.url), 'utf8')) as protobuf.INamespace;
const root = protobuf.Root.fromJSON(descriptor).resolveAll();

export const MODEL_CONFIG: protobuf.Type = root.lookupType('inference.ModelConfig');
export const DATA_TYPE: protobuf.Enum = root.lookupEnum('inference.DataType');

export type Field = protobuf.FieldBase;
export type MapField = protobuf.MapField;
export { protobuf };

/** Field names of a message in declaration order (the order Triton prints a config's JSON in). */
export function fieldOrder(typeName: string): string[] {
  return root.lookupType(typeName).fieldsArray.map((f) => f.name);
}

export function isMap(f: Field): f is MapField {
  return f.map && f instanceof protobuf.MapField;
}

/** The message type of a message-valued field (or of a map's values), else undefined. */
export function messageOf(f: Field): protobuf.Type | undefined {
  return f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
}

export function enumOf(f: Field): protobuf.Enum | undefined {
  return f.resolvedType instanceof protobuf.Enum ? f.resolvedType : undefined;
}

/** camelCase JSON name -> field, per message type: protobuf's JSON parser takes either spelling. */
const jsonNames = new WeakMap<protobuf.Type, Map<string, Field>>();
export function fieldByName(type: protobuf.Type, key: string, json: boolean): Field | undefined {
  const f = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
  if (f || !json) return f;
  let names = jsonNames.get(type);
  if (!names) {
    names = new Map(type.fieldsArray.map((x) => [x.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), x]));
    jsonNames.set(type, names);
  }
  return names.get(key);
}
