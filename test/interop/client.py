#!/usr/bin/python3
"""Interop checks of Duet's gRPC front-end with an independent gRPC stack: C-core gRPC (grpcio).

Run with Debian's Python (needs python3-grpcio, python3-protobuf, python3-numpy, and either
grpc_tools or protobuf-compiler + protobuf-compiler-grpc to generate stubs):

    /usr/bin/python3 test/interop/client.py 127.0.0.1:8001 [--proto-dir proto]

Stubs are generated at run time from the project's own .proto files into a temporary folder.
The calls are raw stub calls made the way tritonclient makes them (raw_input_contents, outputs by
position from raw_output_contents, 2^31-1 message limits, per-call compression).
Prints one JSON line per check: {"check": name, "ok": bool, "detail": ...}; exits 1 if any failed,
2 if the stubs could not be generated or imported.
"""

import argparse
import importlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from checks import CheckFailed, expect, failed, report, run_check  # test/interop/checks.py, beside this script

PROTOS = ["grpc_service.proto", "model_config.proto", "predictor.proto", "health.proto"]
DEBIAN_PACKAGES = "python3-grpcio python3-protobuf python3-numpy protobuf-compiler protobuf-compiler-grpc"
TIMEOUT = 20  # seconds per call


# ---------------------------------------------------------------------------------------------
# Stubs


def generate_stubs(proto_dir, out_dir):
    """grpc_tools.protoc when importable, otherwise Debian's protoc + grpc_python_plugin."""
    files = [os.path.join(proto_dir, p) for p in PROTOS]
    try:
        from grpc_tools import protoc  # type: ignore

        rc = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files])
        if rc != 0:
            raise RuntimeError(f"grpc_tools.protoc exited {rc}")
        return "grpc_tools.protoc"
    except ImportError:
        pass
    protoc_bin = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc_bin or not plugin:
        raise RuntimeError(
            f"no stub generator: grpc_tools is not importable and protoc={protoc_bin} grpc_python_plugin={plugin}; "
            f"install the Debian packages: apt-get install -y {DEBIAN_PACKAGES}"
        )
    subprocess.run(
        [protoc_bin, f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
         f"--plugin=protoc-gen-grpc_python={plugin}", *files],
        check=True, capture_output=True, text=True,
    )
    version = subprocess.run([protoc_bin, "--version"], capture_output=True, text=True).stdout.strip()
    return f"{version} + {plugin}"


def load_stubs(proto_dir):
    out_dir = tempfile.mkdtemp(prefix="duet-interop-stubs-")
    try:
        generator = generate_stubs(proto_dir, out_dir)
        sys.path.insert(0, out_dir)
        mods = {}
        for m in ["grpc_service_pb2", "grpc_service_pb2_grpc", "model_config_pb2", "predictor_pb2",
                  "predictor_pb2_grpc", "health_pb2", "health_pb2_grpc"]:
            mods[m] = importlib.import_module(m)
        return mods, generator
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)  # modules are imported: the files are no longer needed


# ---------------------------------------------------------------------------------------------
# tritonclient's wire encodings


def serialize_bytes_tensor(items):
    """BYTES elements as tritonclient sends them: 4-byte little-endian length, then the bytes."""
    out = bytearray()
    for it in items:
        b = it if isinstance(it, bytes) else str(it).encode("utf-8")
        out += struct.pack("<I", len(b)) + b
    return bytes(out)


def deserialize_bytes_tensor(buf):
    items, off = [], 0
    while off < len(buf):
        (n,) = struct.unpack_from("<I", buf, off)
        off += 4
        expect(off + n <= len(buf), f"BYTES element at offset {off - 4} claims {n} bytes, only {len(buf) - off} left")
        items.append(bytes(buf[off:off + n]))
        off += n
    return items


def output_map(resp):
    """name -> (InferOutputTensor, raw bytes), pairing outputs with raw_output_contents by position as tritonclient does."""
    expect(len(resp.raw_output_contents) == len(resp.outputs),
           f"{len(resp.outputs)} outputs but {len(resp.raw_output_contents)} raw_output_contents")
    return {o.name: (o, resp.raw_output_contents[i]) for i, o in enumerate(resp.outputs)}


# ---------------------------------------------------------------------------------------------
# Checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address", help="host:port of the gRPC server")
    ap.add_argument("--proto-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"))
    args = ap.parse_args()

    try:
        import grpc
        import google.protobuf
        import numpy as np
    except ImportError as e:
        report("prerequisites", False, f"{e}; install the Debian packages: apt-get install -y {DEBIAN_PACKAGES}")
        return 2
    try:
        mods, generator = load_stubs(os.path.abspath(args.proto_dir))
    except Exception as e:  # noqa: BLE001
        msg = e.stderr if isinstance(e, subprocess.CalledProcessError) else str(e)
        report("stubs", False, f"generating or importing the Python stubs failed: {msg}")
        return 2
    report("stubs", True, {"generator": generator, "grpcio": grpc.__version__, "protobuf": google.protobuf.__version__})

    pb = mods["grpc_service_pb2"]
    mc = mods["model_config_pb2"]
    pred_pb = mods["predictor_pb2"]
    health_pb = mods["health_pb2"]

    # Channel options as tritonclient.grpc.InferenceServerClient sets them.
    max_len = 2**31 - 1
    channel = grpc.insecure_channel(args.address, options=[
        ("grpc.max_send_message_length", max_len),
        ("grpc.max_receive_message_length", max_len),
        ("grpc.keepalive_time_ms", 2**31 - 1),
        ("grpc.keepalive_timeout_ms", 20000),
        ("grpc.keepalive_permit_without_calls", False),
        ("grpc.http2.max_pings_without_data", 2),
    ])
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        report("connect", False, f"no connection to {args.address} within {TIMEOUT} s")
        return 1
    report("connect", True, args.address)
    stub = mods["grpc_service_pb2_grpc"].GRPCInferenceServiceStub(channel)
    predictor = mods["predictor_pb2_grpc"].PredictorStub(channel)
    health = mods["health_pb2_grpc"].HealthStub(channel)

    def infer_input(name, datatype, shape):
        t = pb.ModelInferRequest.InferInputTensor()
        t.name, t.datatype = name, datatype
        t.shape.extend(shape)
        return t

    def expect_status(fn, code, must_contain=()):
        try:
            fn()
        except grpc.RpcError as e:
            expect(e.code() == code, f"expected {code}, got {e.code()}: {e.details()}")
            for s in must_contain:
                expect(s in (e.details() or ""), f"message {e.details()!r} does not name {s!r}")
            return {"code": str(e.code()), "message": e.details()}
        raise CheckFailed(f"expected {code}, the call succeeded")

    # Health and metadata.

    def server_live():
        expect(stub.ServerLive(pb.ServerLiveRequest(), timeout=TIMEOUT).live is True, "live is not true")

    def server_ready():
        expect(stub.ServerReady(pb.ServerReadyRequest(), timeout=TIMEOUT).ready is True, "ready is not true")

    def model_ready():
        r = stub.ModelReady(pb.ModelReadyRequest(name="my_model"), timeout=TIMEOUT)
        expect(r.ready is True, "my_model is not ready")
        r = stub.ModelReady(pb.ModelReadyRequest(name="my_model", version="1"), timeout=TIMEOUT)
        expect(r.ready is True, "my_model version 1 is not ready")
        # Unknown model or version: ready=false with status OK (a raised RpcError would fail the check).
        r = stub.ModelReady(pb.ModelReadyRequest(name="no_such_model"), timeout=TIMEOUT)
        expect(r.ready is False, "an unknown model answers ready=true")
        r = stub.ModelReady(pb.ModelReadyRequest(name="my_model", version="7"), timeout=TIMEOUT)
        expect(r.ready is False, "an unknown version answers ready=true")

    def server_metadata():
        r = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=TIMEOUT)
        expect(r.name == "duet", f"name {r.name!r}")
        expect(r.version != "", "empty version")
        expect(len(r.extensions) > 0, "no extensions listed")
        return {"name": r.name, "version": r.version, "extensions": list(r.extensions)}

    def model_metadata():
        r = stub.ModelMetadata(pb.ModelMetadataRequest(name="my_model"), timeout=TIMEOUT)
        expect(r.name == "my_model", f"name {r.name!r}")
        expect("1" in r.versions, f"versions {list(r.versions)}")
        ins = [(t.name, t.datatype, list(t.shape)) for t in r.inputs]
        outs = [(t.name, t.datatype, list(t.shape)) for t in r.outputs]
        expect(ins == [("INPUT0", "FP32", [-1, 128])], f"inputs {ins}")
        expect(outs == [("OUTPUT0", "FP32", [-1, 1])], f"outputs {outs}")

    def model_config():
        r = stub.ModelConfig(pb.ModelConfigRequest(name="my_model"), timeout=TIMEOUT)
        c = r.config
        expect(c.name == "my_model", f"name {c.name!r}")
        expect(c.max_batch_size == 8, f"max_batch_size {c.max_batch_size}")
        expect(len(c.input) == 1 and c.input[0].name == "INPUT0", f"inputs {[i.name for i in c.input]}")
        expect(c.input[0].data_type == mc.TYPE_FP32, f"input data_type {mc.DataType.Name(c.input[0].data_type)}")
        expect(list(c.input[0].dims) == [128], f"input dims {list(c.input[0].dims)}")
        expect(len(c.output) == 1 and c.output[0].name == "OUTPUT0" and list(c.output[0].dims) == [1],
               f"outputs {[(o.name, list(o.dims)) for o in c.output]}")

    # Inference, the way tritonclient encodes it.

    def infer_my_model_raw():
        x = (np.arange(128, dtype=np.float32) / 4).reshape(1, 128)
        req = pb.ModelInferRequest(model_name="my_model", id="interop-1")
        req.inputs.append(infer_input("INPUT0", "FP32", [1, 128]))
        req.raw_input_contents.append(x.tobytes())
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        expect(r.model_name == "my_model", f"model_name {r.model_name!r}")
        expect(r.model_version == "1", f"model_version {r.model_version!r}")
        expect(r.id == "interop-1", f"id {r.id!r}")
        out, raw = output_map(r)["OUTPUT0"]
        expect(out.datatype == "FP32" and list(out.shape) == [1, 1], f"OUTPUT0 {out.datatype} {list(out.shape)}")
        y = np.frombuffer(raw, dtype=np.float32).reshape(list(out.shape))
        expect(y[0, 0] == x.sum(), f"OUTPUT0 {y.tolist()} != sum {x.sum()}")
        return {"sum": float(y[0, 0])}

    def infer_simple_raw():
        a = np.arange(16, dtype=np.int32)
        a[15], a[14] = 2**31 - 1, -(2**31)
        b = np.ones(16, dtype=np.int32)
        req = pb.ModelInferRequest(model_name="simple")
        req.inputs.extend([infer_input("INPUT0", "INT32", [1, 16]), infer_input("INPUT1", "INT32", [1, 16])])
        req.raw_input_contents.extend([a.tobytes(), b.tobytes()])
        # Requested outputs in the reverse order: the client must find each by name.
        for name in ["OUTPUT1", "OUTPUT0"]:
            req.outputs.add(name=name)
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        outs = output_map(r)
        expect(set(outs) == {"OUTPUT0", "OUTPUT1"}, f"outputs {list(outs)}")
        s = np.frombuffer(outs["OUTPUT0"][1], dtype=np.int32)
        d = np.frombuffer(outs["OUTPUT1"][1], dtype=np.int32)
        with np.errstate(over="ignore"):
            expect(np.array_equal(s, a + b), f"sum {s.tolist()}")
            expect(np.array_equal(d, a - b), f"difference {d.tolist()}")
        expect(list(outs["OUTPUT0"][0].shape) == [1, 16], f"OUTPUT0 shape {list(outs['OUTPUT0'][0].shape)}")

    def infer_simple_string_bytes():
        a = [str(i) for i in range(16)]
        b = ["1"] * 16
        req = pb.ModelInferRequest(model_name="simple_string")
        req.inputs.extend([infer_input("INPUT0", "BYTES", [1, 16]), infer_input("INPUT1", "BYTES", [1, 16])])
        req.raw_input_contents.extend([serialize_bytes_tensor(a), serialize_bytes_tensor(b)])
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        outs = output_map(r)
        o0, raw0 = outs["OUTPUT0"]
        expect(o0.datatype == "BYTES" and list(o0.shape) == [1, 16], f"OUTPUT0 {o0.datatype} {list(o0.shape)}")
        s = deserialize_bytes_tensor(raw0)
        d = deserialize_bytes_tensor(outs["OUTPUT1"][1])
        expect(s == [str(i + 1).encode() for i in range(16)], f"sum {s}")
        expect(d == [str(i - 1).encode() for i in range(16)], f"difference {d}")

    def infer_typed_fp32_contents():
        x = [i * 0.5 for i in range(128)] * 2
        req = pb.ModelInferRequest(model_name="my_model")
        t = infer_input("INPUT0", "FP32", [2, 128])
        t.contents.fp32_contents.extend(x)
        req.inputs.append(t)
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        out, raw = output_map(r)["OUTPUT0"]
        y = np.frombuffer(raw, dtype=np.float32).reshape(list(out.shape))
        expect(y.tolist() == [[4064.0], [4064.0]], f"OUTPUT0 {y.tolist()} != [[4064], [4064]]")

    def infer_typed_int_contents():
        req = pb.ModelInferRequest(model_name="simple")
        for name, vals in [("INPUT0", list(range(16))), ("INPUT1", [2] * 16)]:
            t = infer_input(name, "INT32", [1, 16])
            t.contents.int_contents.extend(vals)
            req.inputs.append(t)
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        outs = output_map(r)
        s = np.frombuffer(outs["OUTPUT0"][1], dtype=np.int32).tolist()
        expect(s == [i + 2 for i in range(16)], f"sum {s}")

    def infer_typed_bytes_contents():
        req = pb.ModelInferRequest(model_name="simple_string")
        for name, vals in [("INPUT0", [str(i).encode() for i in range(16)]), ("INPUT1", [b"3"] * 16)]:
            t = infer_input(name, "BYTES", [1, 16])
            t.contents.bytes_contents.extend(vals)
            req.inputs.append(t)
        r = stub.ModelInfer(req, timeout=TIMEOUT)
        s = deserialize_bytes_tensor(output_map(r)["OUTPUT0"][1])
        expect(s == [str(i + 3).encode() for i in range(16)], f"sum {s}")

    # Errors.

    def error_wrong_shape():
        req = pb.ModelInferRequest(model_name="my_model")
        req.inputs.append(infer_input("INPUT0", "FP32", [1, 127]))
        req.raw_input_contents.append(np.zeros(127, dtype=np.float32).tobytes())
        return expect_status(lambda: stub.ModelInfer(req, timeout=TIMEOUT), grpc.StatusCode.INVALID_ARGUMENT, ["INPUT0"])

    def error_unknown_model():
        req = pb.ModelInferRequest(model_name="no_such_model")
        req.inputs.append(infer_input("INPUT0", "FP32", [1, 1]))
        req.raw_input_contents.append(np.zeros(1, dtype=np.float32).tobytes())
        return expect_status(lambda: stub.ModelInfer(req, timeout=TIMEOUT), grpc.StatusCode.NOT_FOUND, ["no_such_model"])

    def error_unknown_model_metadata():
        return expect_status(lambda: stub.ModelMetadata(pb.ModelMetadataRequest(name="no_such_model"), timeout=TIMEOUT),
                             grpc.StatusCode.NOT_FOUND, ["no_such_model"])

    # The brief's Predictor and the standard health service.

    def predictor_predict():
        features = [i * 0.5 for i in range(128)]
        r = predictor.Predict(pred_pb.PredictRequest(features=features), timeout=TIMEOUT)
        expect(r.score == 4064.0, f"score {r.score} != 4064")
        return {"score": r.score}

    def health_check():
        r = health.Check(health_pb.HealthCheckRequest(service=""), timeout=TIMEOUT)
        expect(r.status == health_pb.HealthCheckResponse.SERVING,
               f"status {health_pb.HealthCheckResponse.ServingStatus.Name(r.status)}")

    # Transport: messages past grpc's 4 MiB default, and compressed calls.

    def large_message():
        n = 1_500_000  # 6 MB each way
        x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
        data = x.tobytes()
        req = pb.ModelInferRequest(model_name="identity_fp32")
        req.inputs.append(infer_input("INPUT0", "FP32", [1, n]))
        req.raw_input_contents.append(data)
        r = stub.ModelInfer(req, timeout=60)
        out, raw = output_map(r)["OUTPUT0"]
        expect(list(out.shape) == [1, n], f"OUTPUT0 shape {list(out.shape)}")
        expect(len(raw) == len(data), f"{len(raw)} bytes back for {len(data)}")
        expect(raw == data, "the bytes that came back differ from those sent")
        return {"bytes": len(data)}

    def compressed(algorithm):
        def check():
            x = np.zeros((1, 128), dtype=np.float32)  # compressible
            x[0, :8] = np.arange(8, dtype=np.float32)
            req = pb.ModelInferRequest(model_name="my_model")
            req.inputs.append(infer_input("INPUT0", "FP32", [1, 128]))
            req.raw_input_contents.append(x.tobytes())
            r = stub.ModelInfer(req, timeout=TIMEOUT, compression=algorithm)
            y = np.frombuffer(output_map(r)["OUTPUT0"][1], dtype=np.float32)
            expect(y.tolist() == [28.0], f"OUTPUT0 {y.tolist()} != [28]")
            # A large compressed message too (the limit applies to the decompressed size).
            big = np.zeros(1_200_000, dtype=np.float32)
            big[::1000] = 1.5
            req = pb.ModelInferRequest(model_name="identity_fp32")
            req.inputs.append(infer_input("INPUT0", "FP32", [1, big.size]))
            req.raw_input_contents.append(big.tobytes())
            r = stub.ModelInfer(req, timeout=60, compression=algorithm)
            expect(output_map(r)["OUTPUT0"][1] == big.tobytes(), "the large compressed round trip differs")
        return check

    checks = [
        ("server_live", server_live),
        ("server_ready", server_ready),
        ("model_ready", model_ready),
        ("server_metadata", server_metadata),
        ("model_metadata", model_metadata),
        ("model_config", model_config),
        ("infer_my_model_raw", infer_my_model_raw),
        ("infer_simple_int32_raw", infer_simple_raw),
        ("infer_simple_string_bytes_raw", infer_simple_string_bytes),
        ("infer_typed_fp32_contents", infer_typed_fp32_contents),
        ("infer_typed_int_contents", infer_typed_int_contents),
        ("infer_typed_bytes_contents", infer_typed_bytes_contents),
        ("error_wrong_shape_invalid_argument", error_wrong_shape),
        ("error_unknown_model_not_found", error_unknown_model),
        ("error_unknown_model_metadata_not_found", error_unknown_model_metadata),
        ("predictor_predict", predictor_predict),
        ("health_check", health_check),
        ("large_message_6mb", large_message),
        ("compression_gzip", compressed(grpc.Compression.Gzip)),
        ("compression_deflate", compressed(grpc.Compression.Deflate)),
    ]
    for name, fn in checks:
        run_check(name, fn)
    channel.close()
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
