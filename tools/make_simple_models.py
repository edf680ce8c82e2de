"""Make the small hand-built ONNX example models of the Duet model repository.

Builds, with the `onnx` package's helper API (opset 17, IR version 8, so the
files load in onnxruntime 1.30), each model as models/<name>/1/model.onnx plus
its Triton config models/<name>/config.pbtxt:

  my_model        INPUT0 FP32 [batch,128] -> OUTPUT0 FP32 [batch,1], the row sum
  simple          INPUT0, INPUT1 INT32 [batch,16] -> OUTPUT0 = INPUT0 + INPUT1,
                  OUTPUT1 = INPUT0 - INPUT1 (int32, wraps on overflow)
  identity_<t>    INPUT0 -> OUTPUT0 (Identity) for t in bool int8 int16 int32
                  int64 uint8 uint16 uint32 uint64 fp16 fp32 fp64, ONNX shape
                  [batch, n]

Every graph has the symbolic batch dimension "batch" as dim 0.  The output is
fully deterministic (no random numbers; producer fields fixed), so rerunning
gives byte-identical files.

Run from the repository root:

    /usr/bin/python3 tools/make_simple_models.py

then check the results with `node tools/check_models.mjs`.
"""

import os

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")

OPSET = 17
IR_VERSION = 8
PRODUCER = "duet tools/make_simple_models.py"

# (short name used in identity_<t>, Triton type name, ONNX element type)
IDENTITY_TYPES = [
    ("bool", "TYPE_BOOL", TensorProto.BOOL),
    ("int8", "TYPE_INT8", TensorProto.INT8),
    ("int16", "TYPE_INT16", TensorProto.INT16),
    ("int32", "TYPE_INT32", TensorProto.INT32),
    ("int64", "TYPE_INT64", TensorProto.INT64),
    ("uint8", "TYPE_UINT8", TensorProto.UINT8),
    ("uint16", "TYPE_UINT16", TensorProto.UINT16),
    ("uint32", "TYPE_UINT32", TensorProto.UINT32),
    ("uint64", "TYPE_UINT64", TensorProto.UINT64),
    ("fp16", "TYPE_FP16", TensorProto.FLOAT16),
    ("fp32", "TYPE_FP32", TensorProto.FLOAT),
    ("fp64", "TYPE_FP64", TensorProto.DOUBLE),
]


def save_model(name, graph):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version="1",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(MODELS, name, "1", "model.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save_model(model, path)
    print("wrote", os.path.relpath(path, ROOT))


def tensor_block(tensors):
    """tensors: list of (name, triton type, dims list) -> config.pbtxt entries"""
    parts = []
    for name, dtype, dims in tensors:
        parts.append(
            "  {\n"
            f'    name: "{name}"\n'
            f"    data_type: {dtype}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n"
            "  }"
        )
    return ",\n".join(parts)


def write_config(name, max_batch_size, inputs, outputs):
    text = (
        f'name: "{name}"\n'
        'backend: "onnxruntime"\n'
        f"max_batch_size: {max_batch_size}\n"
        "input [\n" + tensor_block(inputs) + "\n]\n"
        "output [\n" + tensor_block(outputs) + "\n]\n"
        "instance_group [ { count: 1, kind: KIND_CPU } ]\n"
    )
    path = os.path.join(MODELS, name, "config.pbtxt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print("wrote", os.path.relpath(path, ROOT))


def make_my_model():
    x = helper.make_tensor_value_info("INPUT0", TensorProto.FLOAT, ["batch", 128])
    y = helper.make_tensor_value_info("OUTPUT0", TensorProto.FLOAT, ["batch", 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    node = helper.make_node(
        "ReduceSum", ["INPUT0", "axes"], ["OUTPUT0"], name="row_sum", keepdims=1
    )
    graph = helper.make_graph([node], "my_model", [x], [y], initializer=[axes])
    save_model("my_model", graph)
    write_config(
        "my_model", 8, [("INPUT0", "TYPE_FP32", [128])], [("OUTPUT0", "TYPE_FP32", [1])]
    )


def make_simple():
    shape = ["batch", 16]
    a = helper.make_tensor_value_info("INPUT0", TensorProto.INT32, shape)
    b = helper.make_tensor_value_info("INPUT1", TensorProto.INT32, shape)
    s = helper.make_tensor_value_info("OUTPUT0", TensorProto.INT32, shape)
    d = helper.make_tensor_value_info("OUTPUT1", TensorProto.INT32, shape)
    nodes = [
        helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"], name="add"),
        helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"], name="sub"),
    ]
    graph = helper.make_graph(nodes, "simple", [a, b], [s, d])
    save_model("simple", graph)
    write_config(
        "simple",
        8,
        [("INPUT0", "TYPE_INT32", [16]), ("INPUT1", "TYPE_INT32", [16])],
        [("OUTPUT0", "TYPE_INT32", [16]), ("OUTPUT1", "TYPE_INT32", [16])],
    )


def make_identities():
    for short, triton_type, onnx_type in IDENTITY_TYPES:
        name = f"identity_{short}"
        x = helper.make_tensor_value_info("INPUT0", onnx_type, ["batch", "n"])
        y = helper.make_tensor_value_info("OUTPUT0", onnx_type, ["batch", "n"])
        node = helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"], name="identity")
        graph = helper.make_graph([node], name, [x], [y])
        save_model(name, graph)
        write_config(
            name, 8, [("INPUT0", triton_type, [-1])], [("OUTPUT0", triton_type, [-1])]
        )


def main():
    make_my_model()
    make_simple()
    make_identities()


if __name__ == "__main__":
    main()
