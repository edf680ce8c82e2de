#!/usr/bin/python3
"""Server reflection as Python's protobuf sees it: a small reflection client on grpcio (Debian ships no
grpc_reflection package), fetching every service's file by file_containing_symbol, adding the files to a
descriptor_pool.DescriptorPool and building every message class from them, then one ModelInfer call made
only with the classes built from reflection.

    /usr/bin/python3 test/interop/reflection.py 127.0.0.1:8001 [--proto-dir proto]

Only proto/reflection.proto is compiled (protoc --python_out, into a temporary folder); every other type
comes from the server. Prints one JSON line per check: {"check": name, "ok": bool, "detail": ...};
exits 1 if any failed, 2 if the reflection stubs could not be generated.
"""

import argparse
import importlib
import shutil
import struct
import subprocess
import sys
import tempfile

from checks import expect, failed, report, run_check  # test/interop/checks.py, beside this script

TIMEOUT = 20  # seconds per call
NOT_FOUND = 5


def load_reflection_pb2(proto_dir):
    out = tempfile.mkdtemp(prefix="duet-reflection-")
    try:
        protoc = shutil.which("protoc")
        if not protoc:
            raise RuntimeError("protoc not found: apt-get install -y protobuf-compiler")
        subprocess.run([protoc, f"-I{proto_dir}", f"--python_out={out}", f"{proto_dir}/reflection.proto"],
                       check=True, capture_output=True, text=True)
        sys.path.insert(0, out)
        return importlib.import_module("reflection_pb2")
    finally:
        shutil.rmtree(out, ignore_errors=True)


class Reflection:
    """One ServerReflectionInfo stream per question list, as a reflection client would open them."""

    def __init__(self, channel, pb2, package):
        self.pb2 = pb2
        self.call = channel.stream_stream(
            f"/grpc.reflection.{package}.ServerReflection/ServerReflectionInfo",
            request_serializer=pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=pb2.ServerReflectionResponse.FromString,
        )

    def ask(self, requests):
        return list(self.call(iter(requests), timeout=TIMEOUT))

    def services(self):
        [r] = self.ask([self.pb2.ServerReflectionRequest(list_services="")])
        expect(r.WhichOneof("message_response") == "list_services_response", f"list_services answered {r}")
        return [s.name for s in r.list_services_response.service]

    def files_for(self, symbols):
        """file_containing_symbol for each symbol on one stream: name -> FileDescriptorProto."""
        from google.protobuf import descriptor_pb2

        files = {}
        answers = self.ask([self.pb2.ServerReflectionRequest(file_containing_symbol=s) for s in symbols])
        expect(len(answers) == len(symbols), f"{len(symbols)} questions, {len(answers)} answers")
        for sym, r in zip(symbols, answers):
            kind = r.WhichOneof("message_response")
            expect(kind == "file_descriptor_response", f"file_containing_symbol {sym!r} answered {kind}: {r.error_response}")
            expect(r.original_request.file_containing_symbol == sym, f"original_request does not echo {sym!r}")
            for raw in r.file_descriptor_response.file_descriptor_proto:
                fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files[fd.name] = fd
        return files


def build_pool(files):
    """Adds the files in import order; returns the pool."""
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added:
            return
        expect(name in files, f"file {name} was never sent (a dependency the server left out)")
        for dep in files[name].dependency:
            add(dep)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)
    return pool


def message_names(fd):
    def walk(prefix, messages):
        for m in messages:
            full = f"{prefix}.{m.name}" if prefix else m.name
            yield full
            yield from walk(full, m.nested_type)

    yield from walk(fd.package, fd.message_type)


def message_class(pool, name):
    from google.protobuf import message_factory

    desc = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--proto-dir", default="proto")
    args = ap.parse_args()

    import grpc

    try:
        pb2 = load_reflection_pb2(args.proto_dir)
    except Exception as e:  # noqa: BLE001
        report("stubs", False, f"{type(e).__name__}: {e}")
        return 2
    report("stubs", True)

    channel = grpc.insecure_channel(args.target)
    state = {}

    def need(key):
        expect(key in state, f"not run: it needs the {key} an earlier check failed to get")
        return state[key]

    for package in ("v1", "v1alpha"):
        reflection = Reflection(channel, pb2, package)

        def list_services(reflection=reflection):
            names = reflection.services()
            for want in ["inference.GRPCInferenceService", "Predictor", "duet.Generator", "grpc.health.v1.Health",
                         "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]:
                expect(want in names, f"{want} missing from {names}")
            state["services"] = names
            return names

        run_check(f"{package}_list_services", list_services)

    reflection = Reflection(channel, pb2, "v1")

    def fetch_files():
        files = reflection.files_for(need("services"))
        state["files"] = files
        return sorted(files)

    run_check("fetch_files_by_service", fetch_files)

    def pool_has_services():
        pool = build_pool(need("files"))
        state["pool"] = pool
        methods = []
        for svc in state["services"]:
            d = pool.FindServiceByName(svc)
            methods += [f"{svc}/{m.name}" for m in d.methods]
        expect("inference.GRPCInferenceService/ModelInfer" in methods, f"ModelInfer missing: {methods}")
        expect("Predictor/Predict" in methods, f"Predictor/Predict missing: {methods}")
        return len(methods)

    run_check("descriptor_pool_services", pool_has_services)

    def every_message_class():
        # Where the old descriptors failed: "map_entry should not be set explicitly".
        built = 0
        pool = need("pool")
        for fd in state["files"].values():
            for name in message_names(fd):
                cls = message_class(pool, name)
                cls()
                built += 1
        expect(built > 100, f"only {built} message types")
        params = message_class(pool, "inference.ModelInferRequest")().DESCRIPTOR.fields_by_name["parameters"]
        expect(params.message_type.GetOptions().map_entry, "ModelInferRequest.parameters is not a map field")
        return built

    run_check("build_every_message_class", every_message_class)

    def symbols_resolve():
        files = reflection.files_for(["PredictRequest", ".inference.ModelInferRequest.InferInputTensor",
                                      "inference.GRPCInferenceService.ModelInfer", "inference.ModelConfig.max_batch_size",
                                      "inference.DataType", "inference.TYPE_FP32"])
        expect("predictor.proto" in files and "model_config.proto" in files, f"got {sorted(files)}")
        [r] = reflection.ask([pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol")])
        expect(r.WhichOneof("message_response") == "error_response", f"unknown symbol answered {r}")
        expect(r.error_response.error_code == NOT_FOUND, f"error_code {r.error_response.error_code}")
        expect("no.such.Symbol" in r.error_response.error_message, r.error_response.error_message)
        return r.error_response.error_message

    run_check("symbols_and_not_found", symbols_resolve)

    def infer_with_reflected_classes():
        Request = message_class(need("pool"), "inference.ModelInferRequest")
        Response = message_class(state["pool"], "inference.ModelInferResponse")
        values = [i * 0.25 for i in range(128)]
        req = Request(model_name="my_model")
        req.parameters["note"].string_param = "built from reflection"
        tensor = req.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 128])
        tensor.contents.fp32_contents.extend(values)
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                   request_serializer=Request.SerializeToString, response_deserializer=Response.FromString)
        resp = call(req, timeout=TIMEOUT)
        expect(len(resp.raw_output_contents) == 1, f"{len(resp.raw_output_contents)} raw outputs")
        (got,) = struct.unpack("<f", resp.raw_output_contents[0])
        want = sum(values)
        expect(abs(got - want) < 1e-3 * max(1.0, abs(want)), f"sum {got}, expected {want}")
        return got

    run_check("model_infer_with_reflected_classes", infer_with_reflected_classes)

    channel.close()
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
