// FileDescriptorProtos of .proto files as protoc emits them (less source_code_info), built from
// protobufjs's parse: what reflection serves, so tools see the same schema protoc would give them.
// proto3 files only (all of Duet's are); options other than map_entry, packed, deprecated (fields and
// methods), allow_alias and json_name are not carried.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { layoutOf, type Layout } from './layout.js';

// The plain-object shapes of google.protobuf's descriptor messages (protobufjs's camelCase JSON names).
export interface FieldDescriptor {
  name: string;
  number: number;
  label: Label;
  type: string;
  typeName?: string;
  oneofIndex?: number;
  jsonName: string;
  options?: { packed?: boolean; deprecated?: boolean };
  proto3Optional?: boolean;
}
export interface EnumDescriptor {
  name: string;
  value: { name: string; number: number }[];
  options?: { allowAlias?: boolean };
  reservedRange?: { start: number; end: number }[];
  reservedName?: string[];
}
export interface MessageDescriptor {
  name: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  oneofDecl?: { name: string }[];
  options?: { mapEntry?: boolean };
  reservedRange?: { start: number; end: number }[];
  reservedName?: string[];
}
export interface MethodDescriptor {
  name: string;
  inputType: string;
  outputType: string;
  options?: { deprecated?: boolean };
  clientStreaming?: boolean;
  serverStreaming?: boolean;
}
export interface FileDescriptor {
  name: string;
  package?: string;
  dependency?: string[];
  publicDependency?: number[];
  weakDependency?: number[];
  messageType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  service?: { name: string; method?: MethodDescriptor[] }[];
  syntax?: string;
}
type Label = 'LABEL_OPTIONAL' | 'LABEL_REPEATED';

const SCALARS: Record<string, string> = {
  double: 'TYPE_DOUBLE', float: 'TYPE_FLOAT', int64: 'TYPE_INT64', uint64: 'TYPE_UINT64', int32: 'TYPE_INT32',
  fixed64: 'TYPE_FIXED64', fixed32: 'TYPE_FIXED32', bool: 'TYPE_BOOL', string: 'TYPE_STRING', bytes: 'TYPE_BYTES',
  uint32: 'TYPE_UINT32', sfixed32: 'TYPE_SFIXED32', sfixed64: 'TYPE_SFIXED64', sint32: 'TYPE_SINT32', sint64: 'TYPE_SINT64',
};

/** Every .proto file in `dir`, by the name it is imported by (protoc -I dir). */
export function describeProtoDir(dir: string): FileDescriptor[] {
  const names = readdirSync(dir).filter((f) => f.endsWith('.proto')).sort();
  return describeProtos(names.map((name) => ({ name, source: readFileSync(join(dir, name), 'utf8') })));
}

/** Descriptors of a closed set of files (every import among them). */
export function describeProtos(files: { name: string; source: string }[]): FileDescriptor[] {
  const root = new protobuf.Root();
  const parsed = files.map(({ name, source }) => {
    // parse stamps this on each declaration, so they can be grouped by file again.
    (protobuf.parse as unknown as { filename: string | null }).filename = name;
    const result = protobuf.parse(source, root, { keepCase: true });
    const layout = layoutOf(source);
    if (layout.syntax !== 'proto3') throw new Error(`${name}: reflection describes proto3 files only, got syntax '${layout.syntax}'`);
    for (const { file } of layout.imports) {
      if (!files.some((f) => f.name === file)) throw new Error(`${name} imports ${file}, which is not among the proto files`);
    }
    return { name, pkg: result.package ?? '', layout };
  });
  root.resolveAll();
  return parsed.map(({ name, pkg, layout }) => describeFile(root, name, pkg, layout));
}

function describeFile(root: protobuf.Root, name: string, pkg: string, layout: Layout): FileDescriptor {
  const ns = pkg ? root.lookup(pkg) as protobuf.Namespace : root;
  const mine = ns.nestedArray.filter((o) => o.filename === name);
  const file: FileDescriptor = { name };
  if (pkg) file.package = pkg;
  if (layout.imports.length) file.dependency = layout.imports.map((i) => i.file);
  const indexes = (kind: string) => layout.imports.flatMap((imp, k) => (imp.kind === kind ? [k] : []));
  if (indexes('public').length) file.publicDependency = indexes('public');
  if (indexes('weak').length) file.weakDependency = indexes('weak');
  const messages = mine.filter((o): o is protobuf.Type => o instanceof protobuf.Type).map((t) => describeMessage(t, layout));
  const enums = mine.filter((o): o is protobuf.Enum => o instanceof protobuf.Enum).map(describeEnum);
  const services = mine.filter((o): o is protobuf.Service => o instanceof protobuf.Service).map((s) => describeService(s, layout));
  if (messages.length) file.messageType = messages;
  if (enums.length) file.enumType = enums;
  if (services.length) file.service = services;
  file.syntax = layout.syntax;
  return file;
}

const dotless = (fullName: string) => fullName.replace(/^\./, '');
const isSynthetic = (o: protobuf.OneOf) => o.fieldsArray.length === 1 && o.fieldsArray[0].options?.proto3_optional === true;

function describeMessage(type: protobuf.Type, layout: Layout): MessageDescriptor {
  const msg: MessageDescriptor = { name: type.name };
  // Real oneofs first, then one synthetic oneof per proto3 `optional` field, in field order.
  const real = type.oneofsArray.filter((o) => !isSynthetic(o));
  const oneofs: { name: string }[] = real.map((o) => ({ name: o.name }));
  const entries = new Map<string, MessageDescriptor>();
  const fields = type.fieldsArray.map((f) => {
    const d = describeField(f);
    if (f instanceof protobuf.MapField) {
      const entry = mapEntry(f);
      entries.set(f.name, entry);
      d.type = 'TYPE_MESSAGE';
      d.typeName = `${type.fullName}.${entry.name}`;
      d.label = 'LABEL_REPEATED';
    } else if (f.options?.proto3_optional === true) {
      // protoc would rename a clashing `_name` (X_name); protobufjs refuses such a file at parse already.
      d.proto3Optional = true;
      d.oneofIndex = oneofs.push({ name: `_${f.name}` }) - 1;
    } else if (f.partOf) {
      d.oneofIndex = real.indexOf(f.partOf);
    }
    return d;
  });
  if (fields.length) msg.field = fields;

  const nestedTypes = type.nestedArray.filter((o): o is protobuf.Type => o instanceof protobuf.Type);
  const nested: MessageDescriptor[] = [];
  for (const entry of layout.order.get(dotless(type.fullName)) ?? []) {
    const [kind, name] = entry.split(':');
    if (kind === 'map' && entries.has(name)) {
      nested.push(entries.get(name)!);
      entries.delete(name);
    } else {
      const t = nestedTypes.find((n) => n.name === name);
      if (t) nested.push(describeMessage(t, layout));
      nestedTypes.splice(nestedTypes.indexOf(t!), t ? 1 : 0);
    }
  }
  // Anything the source scan missed still goes out, after what it placed.
  nested.push(...nestedTypes.map((t) => describeMessage(t, layout)), ...entries.values());
  if (nested.length) msg.nestedType = nested;
  const enums = type.nestedArray.filter((o): o is protobuf.Enum => o instanceof protobuf.Enum).map(describeEnum);
  if (enums.length) msg.enumType = enums;
  if (oneofs.length) msg.oneofDecl = oneofs;
  reserved(msg, type.reserved, 1);
  return msg;
}

function describeField(f: protobuf.Field): FieldDescriptor {
  const d: FieldDescriptor = { name: f.name, number: f.id, label: f.repeated ? 'LABEL_REPEATED' : 'LABEL_OPTIONAL', type: '', jsonName: '' };
  Object.assign(d, typeOf(f.type, f.resolvedType));
  d.jsonName = typeof f.options?.json_name === 'string' ? f.options.json_name : jsonName(f.name);
  const options: FieldDescriptor['options'] = {};
  if (f.options?.packed !== undefined) options.packed = f.options.packed === true;
  if (f.options?.deprecated !== undefined) options.deprecated = f.options.deprecated === true;
  if (Object.keys(options).length) d.options = options;
  return d;
}

function typeOf(type: string, resolved: protobuf.Type | protobuf.Enum | null): Pick<FieldDescriptor, 'type' | 'typeName'> {
  if (resolved instanceof protobuf.Enum) return { type: 'TYPE_ENUM', typeName: resolved.fullName };
  if (resolved instanceof protobuf.Type) return { type: 'TYPE_MESSAGE', typeName: resolved.fullName };
  const scalar = SCALARS[type];
  if (!scalar) throw new Error(`unresolved field type '${type}'`);
  return { type: scalar };
}

/** protoc's nested message for `map<K, V> some_field`: SomeFieldEntry { K key = 1; V value = 2; }. */
function mapEntry(f: protobuf.MapField): MessageDescriptor {
  const name = f.name.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('') + 'Entry';
  const key: FieldDescriptor = { name: 'key', number: 1, label: 'LABEL_OPTIONAL', ...typeOf(f.keyType, null), jsonName: 'key' };
  const value: FieldDescriptor = { name: 'value', number: 2, label: 'LABEL_OPTIONAL', ...typeOf(f.type, f.resolvedType), jsonName: 'value' };
  return { name, field: [key, value], options: { mapEntry: true } };
}

/** protoc's default JSON name: underscores dropped, the letter after each one upper-cased. */
export function jsonName(name: string): string {
  let out = '';
  let upper = false;
  for (const c of name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

function describeEnum(e: protobuf.Enum): EnumDescriptor {
  const d: EnumDescriptor = { name: e.name, value: Object.entries(e.values).map(([name, number]) => ({ name, number })) };
  if (e.options?.allow_alias !== undefined) d.options = { allowAlias: e.options.allow_alias === true };
  reserved(d, e.reserved, 0);
  return d;
}

/** protobufjs keeps inclusive [start, end] pairs; a message's range ends one past (endOffset 1), an enum's at its end. */
function reserved(d: { reservedRange?: { start: number; end: number }[]; reservedName?: string[] }, list: (number[] | string)[] | undefined, endOffset: number): void {
  if (!list?.length) return;
  const ranges = list.filter((r): r is number[] => Array.isArray(r)).map(([start, end]) => ({ start, end: end + endOffset }));
  const names = list.filter((r): r is string => typeof r === 'string');
  if (ranges.length) d.reservedRange = ranges;
  if (names.length) d.reservedName = names;
}

function describeService(s: protobuf.Service, layout: Layout): { name: string; method?: MethodDescriptor[] } {
  const methods = s.methodsArray.map((m) => {
    m.resolve();
    const d: MethodDescriptor = { name: m.name, inputType: m.resolvedRequestType!.fullName, outputType: m.resolvedResponseType!.fullName };
    if (layout.rpcBodies.has(dotless(m.fullName))) d.options = {};
    if (m.options?.deprecated !== undefined) d.options = { deprecated: m.options.deprecated === true };
    if (m.requestStream) d.clientStreaming = true;
    if (m.responseStream) d.serverStreaming = true;
    return d;
  });
  return methods.length ? { name: s.name, method: methods } : { name: s.name };
}
