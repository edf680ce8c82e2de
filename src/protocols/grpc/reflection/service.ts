// grpc.reflection.v1 and v1alpha (the same messages under two names): list the services Duet serves and
// hand out the FileDescriptorProtos of its proto files, so buf curl, grpcurl and grpcio can describe and
// call every method without a copy of the .proto files.

import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';
import { grpc as g } from '../../../generated/proto.js';
import { InferenceError, invalidArg, notFound } from '../../../core/errors.js';
import { DecodeFailure, methodDefinition } from '../definitions.js';
import { toStatus } from '../service.js';
import { describeProtoDir, type FileDescriptor, type MessageDescriptor } from './descriptors.js';

const R = g.reflection.v1;
type Request = g.reflection.v1.ServerReflectionRequest;
type Response = g.reflection.v1.IServerReflectionResponse;

const descriptorTypes = createRequire(import.meta.url)('protobufjs/ext/descriptor') as {
  FileDescriptorProto: { fromObject(o: object): object; encode(m: object): { finish(): Uint8Array } };
};

function reflectionService(pkg: string): grpc.ServiceDefinition {
  const ServerReflectionInfo = methodDefinition({
    path: `/${pkg}.ServerReflection/ServerReflectionInfo`, requestType: R.ServerReflectionRequest, responseType: R.ServerReflectionResponse,
    requestStream: true, responseStream: true,
  });
  return { ServerReflectionInfo } as grpc.ServiceDefinition;
}
export const REFLECTION_V1_SERVICE = reflectionService('grpc.reflection.v1');
export const REFLECTION_V1ALPHA_SERVICE = reflectionService('grpc.reflection.v1alpha');

/** The proto files by name (encoded, with their imports) and where each symbol is declared. */
export interface Catalog {
  files: Map<string, { bytes: Uint8Array; dependency: string[] }>;
  /** Full name (no leading dot) of every service, method, message, field, oneof, enum and enum value -> file. */
  symbols: Map<string, string>;
  messages: Set<string>;
}

export function catalogOf(files: FileDescriptor[]): Catalog {
  const catalog: Catalog = { files: new Map(), symbols: new Map(), messages: new Set() };
  for (const f of files) {
    const bytes = descriptorTypes.FileDescriptorProto.encode(descriptorTypes.FileDescriptorProto.fromObject(f)).finish();
    catalog.files.set(f.name, { bytes, dependency: f.dependency ?? [] });
    const add = (name: string) => catalog.symbols.set(name, f.name);
    const scope = (name: string, parent: string) => (parent ? `${parent}.${name}` : name);
    // Enum values live beside their enum (protobuf's C++ scoping), not inside it.
    const addEnums = (enums: FileDescriptor['enumType'], parent: string) => {
      for (const e of enums ?? []) {
        add(scope(e.name, parent));
        for (const v of e.value) add(scope(v.name, parent));
      }
    };
    const addMessage = (m: MessageDescriptor, parent: string) => {
      const name = scope(m.name, parent);
      add(name);
      catalog.messages.add(name);
      for (const field of m.field ?? []) add(`${name}.${field.name}`);
      for (const o of m.oneofDecl ?? []) add(`${name}.${o.name}`);
      for (const n of m.nestedType ?? []) addMessage(n, name);
      addEnums(m.enumType, name);
    };
    const pkg = f.package ?? '';
    for (const m of f.messageType ?? []) addMessage(m, pkg);
    addEnums(f.enumType, pkg);
    for (const s of f.service ?? []) {
      const name = scope(s.name, pkg);
      add(name);
      for (const m of s.method ?? []) add(`${name}.${m.name}`);
    }
  }
  return catalog;
}

const catalogs = new Map<string, Catalog>();
/** Built once per proto folder, the first time it is needed. */
export function catalogFor(protoDir: string): Catalog {
  let c = catalogs.get(protoDir);
  if (!c) catalogs.set(protoDir, c = catalogOf(describeProtoDir(protoDir)));
  return c;
}

const dotless = (name: string) => (name.startsWith('.') ? name.slice(1) : name);

/**
 * One reflection answer. `sent` holds the files already sent on this stream: the file asked for always
 * goes out, its transitive imports only once per stream (clients cache what they got).
 */
export function answer(catalog: Catalog, services: readonly string[], req: Request, sent: Set<string>): Response {
  const base: Response = { valid_host: req.host ?? '', original_request: req };
  try {
    return { ...base, ...respond(catalog, services, req, sent) };
  } catch (e) {
    if (!(e instanceof InferenceError)) throw e;
    return { ...base, error_response: { error_code: e.grpcStatus, error_message: e.message } };
  }
}

function respond(catalog: Catalog, services: readonly string[], req: Request, sent: Set<string>): Response {
  switch (req.message_request) {
    case 'list_services':
      return { list_services_response: { service: services.map((name) => ({ name })) } };
    case 'file_by_filename': {
      const name = req.file_by_filename ?? '';
      if (!catalog.files.has(name)) throw notFound(`unknown file '${name}'; the files are ${[...catalog.files.keys()].join(', ')}`);
      return filesFrom(catalog, name, sent);
    }
    case 'file_containing_symbol': {
      const symbol = dotless(req.file_containing_symbol ?? '');
      const file = catalog.symbols.get(symbol);
      if (!file) throw notFound(`unknown symbol '${symbol}': no service, method, message, enum or field of that full name (e.g. inference.GRPCInferenceService)`);
      return filesFrom(catalog, file, sent);
    }
    case 'file_containing_extension': {
      // No proto file here declares extensions; answered as protoc-based servers do.
      const { containing_type, extension_number } = req.file_containing_extension ?? {};
      const type = dotless(containing_type ?? '');
      if (!catalog.messages.has(type)) throw notFound(`unknown message type '${type}'`);
      throw notFound(`message type '${type}' has no extension ${extension_number ?? 0}`);
    }
    case 'all_extension_numbers_of_type': {
      const type = dotless(req.all_extension_numbers_of_type ?? '');
      if (!catalog.messages.has(type)) throw notFound(`unknown message type '${type}'`);
      return { all_extension_numbers_response: { base_type_name: type, extension_number: [] } };
    }
    default:
      throw invalidArg('the reflection request asks nothing: set one of file_by_filename, file_containing_symbol, ' +
        'file_containing_extension, all_extension_numbers_of_type, list_services');
  }
}

function filesFrom(catalog: Catalog, name: string, sent: Set<string>): Response {
  const out: Uint8Array[] = [];
  const visit = (file: string, asked: boolean) => {
    if (!asked && sent.has(file)) return;
    sent.add(file);
    const entry = catalog.files.get(file)!;
    out.push(entry.bytes);
    for (const dep of entry.dependency) visit(dep, false);
  };
  visit(name, true);
  return { file_descriptor_response: { file_descriptor_proto: out } };
}

/** Questions a client may have waiting while it reads no answers; past this the stream fails. */
export const MAX_WAITING_REQUESTS = 1000;

/**
 * The ServerReflectionInfo handler for both packages; `services` names what the server serves. Answers go
 * out in order, and only while the client takes them: questions wait (up to MAX_WAITING_REQUESTS) while
 * the transport is full, so a client cannot make the server hold many copies of a large answer.
 */
export function reflectionImpl(protoDir: string, services: () => readonly string[]) {
  return {
    ServerReflectionInfo(call: grpc.ServerDuplexStream<unknown, unknown>) {
      const sent = new Set<string>();
      const waiting: (Request | DecodeFailure)[] = [];
      let full = false;
      let inputEnded = false;
      let over = false;
      const fail = (e: InferenceError) => {
        over = true;
        waiting.length = 0;
        call.emit('error', toStatus(e));
      };
      const pump = () => {
        while (!over && !full && waiting.length) {
          const req = waiting.shift()!;
          if (req instanceof DecodeFailure) return fail(invalidArg(req.message));
          let res: Response;
          try {
            res = answer(catalogFor(protoDir), services(), req, sent);
          } catch (e) {
            return fail(new InferenceError('INTERNAL', `reflection could not read the proto files in ${protoDir}: ${(e as Error).message}`));
          }
          if (!call.write(res)) {
            full = true;
            call.once('drain', () => {
              full = false;
              pump();
            });
          }
        }
        if (!over && !full && inputEnded) {
          over = true;
          call.end();
        }
      };
      call.on('data', (req: Request | DecodeFailure) => {
        if (over) return;
        if (waiting.length >= MAX_WAITING_REQUESTS) {
          return fail(new InferenceError('RESOURCE_EXHAUSTED', `${MAX_WAITING_REQUESTS} reflection requests are waiting while the client reads no answers`));
        }
        waiting.push(req);
        pump();
      });
      call.on('end', () => {
        inputEnded = true;
        pump();
      });
      call.on('cancelled', () => {
        over = true;
        waiting.length = 0;
      });
    },
  };
}
