// The descriptors reflection serves against protoc's own (protoc --descriptor_set_out --include_imports):
// byte for byte, and field by field for a readable difference, for every file in proto/ and for a
// fixture of the cases Duet's files do not have (a map before a nested message, public imports,
// reserved ranges, aliases, json_name, packed, rpc bodies). protoc comes from Debian's protobuf-compiler.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describeProtoDir, jsonName } from './descriptors.js';

const PROTO_DIR = fileURLToPath(new URL('../../../../../proto', import.meta.url));
interface DescriptorType {
  decode(b: Uint8Array): object;
  encode(m: object): { finish(): Uint8Array };
  fromObject(o: object): object;
  toObject(m: object, o: object): Record<string, unknown>;
}
const d = createRequire(import.meta.url)('protobufjs/ext/descriptor') as { FileDescriptorProto: DescriptorType };

/** protoc's serialized FileDescriptorProtos, by file name. */
function protocFiles(dir: string, files: string[]): Map<string, Uint8Array> {
  const out = join(mkdtempSync(join(tmpdir(), 'duet-protoc-')), 'set.pb');
  try {
    execFileSync('protoc', [`-I${dir}`, '--include_imports', `--descriptor_set_out=${out}`, ...files], { stdio: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') assert.fail('protoc is not installed: apt-get install -y protobuf-compiler (.ci/run does this in CI)');
    assert.fail(`protoc failed: ${err.stderr?.toString() ?? err.message}`);
  }
  const set = readFileSync(out);
  rmSync(join(out, '..'), { recursive: true, force: true });
  // A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: read each file's bytes as protoc wrote them.
  const files_ = new Map<string, Uint8Array>();
  const r = protobuf.Reader.create(set);
  while (r.pos < r.len) {
    assert.equal(r.uint32(), (1 << 3) | 2, 'FileDescriptorSet holds only field 1');
    const bytes = r.bytes();
    const { name } = d.FileDescriptorProto.toObject(d.FileDescriptorProto.decode(bytes), {}) as { name: string };
    files_.set(name, bytes);
  }
  return files_;
}

function assertSameAsProtoc(dir: string): void {
  const names = readdirSync(dir).filter((f) => f.endsWith('.proto')).sort();
  const theirs = protocFiles(dir, names);
  const ours = describeProtoDir(dir);
  assert.deepEqual(ours.map((f) => f.name), names);
  const asObject = (m: object) => d.FileDescriptorProto.toObject(m, { enums: String, longs: Number });
  for (const file of ours) {
    const protoc = theirs.get(file.name);
    assert.ok(protoc, `protoc did not describe ${file.name}`);
    const msg = d.FileDescriptorProto.fromObject(file);
    const expected = asObject(d.FileDescriptorProto.decode(protoc));
    delete expected.sourceCodeInfo; // the one part left out (protoc writes none without --include_source_info anyway)
    assert.deepEqual(asObject(msg), expected, `${file.name} differs from protoc's descriptor`);
    assert.ok(Buffer.from(d.FileDescriptorProto.encode(msg).finish()).equals(Buffer.from(protoc)), `${file.name}: same fields, other bytes`);
  }
}

describe('FileDescriptorProtos as protoc emits them', () => {
  test("every file in proto/ (Duet's own)", () => {
    assertSameAsProtoc(PROTO_DIR);
  });

  test('a fixture with the cases proto/ lacks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-descriptors-'));
    try {
      writeFileSync(join(dir, 'a.proto'), `syntax = "proto3";
package edge.v1;
import "b.proto";
import public "c.proto";

// A comment with a brace { that is not structure.
message Outer {
  map<string, Inner> early_map = 1;
  message Inner {
    enum Kind { KIND_UNSPECIFIED = 0; KIND_ONE = 1; }
    Kind kind = 1;
    repeated int64 ids = 2 [packed = false];
    Outer.Inner.Kind again = 3;
  }
  optional string maybe = 2;
  oneof choice {
    Shared shared = 3;
    int32 number = 4;
  }
  map<int64, Inner.Kind> kinds = 5;
  string _under_score = 6;
  string custom = 7 [json_name = "renamed"];
  reserved 10 to 12, 30 to max;
  reserved "old", "older";
  sfixed64 s64 = 8;
  bytes data = 9 [deprecated = true];
  optional .edge.v1.Outer.Inner self = 13;
  optional bool choice2 = 15;
  sint32 s32 = 16;
  fixed32 f32 = 17;
  double d = 18;
  repeated Top tops = 19;
  message Later { string x = 1; }
  map<bool, bytes> late_map = 22;
}

enum Top {
  option allow_alias = true;
  TOP_A = 0;
  TOP_B = 1;
  TOP_ALIAS = 1;
  reserved 5 to 7, 100 to max;
  reserved "TOP_GONE";
}

service S {
  rpc Up(stream Outer) returns (Shared);
  rpc Down(.edge.v1.Outer) returns (stream Outer) {}
  rpc Both(stream CThing) returns (stream Outer.Inner) { option deprecated = true; }
}
`);
      writeFileSync(join(dir, 'b.proto'), 'syntax = "proto3";\nmessage Shared { bool ok = 1; }\n');
      writeFileSync(join(dir, 'c.proto'), 'syntax = "proto3";\npackage edge.v1;\nmessage CThing { repeated string s = 1; }\n');
      assertSameAsProtoc(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a proto2 file or a missing import is refused with its name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-descriptors-'));
    try {
      writeFileSync(join(dir, 'old.proto'), 'syntax = "proto2";\nmessage Old { optional int32 x = 1; }\n');
      assert.throws(() => describeProtoDir(dir), /old\.proto: reflection describes proto3 files only, got syntax 'proto2'/);
      writeFileSync(join(dir, 'old.proto'), 'syntax = "proto3";\nimport "gone.proto";\nmessage Old { int32 x = 1; }\n');
      assert.throws(() => describeProtoDir(dir), /old\.proto imports gone\.proto, which is not among the proto files/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("protoc's JSON names", () => {
    assert.equal(jsonName('finish_reason'), 'finishReason');
    assert.equal(jsonName('raw_input_contents'), 'rawInputContents');
    assert.equal(jsonName('_under_score'), 'UnderScore');
    assert.equal(jsonName('int64_param'), 'int64Param');
    assert.equal(jsonName('a__b'), 'aB');
  });
});
