"""Make "resnet_mini": a small ResNet-shaped image classifier with random weights.

An ImageNet-shaped stand-in for benchmarks and tests, not a trained model:
INPUT0 FP32 [batch,3,224,224] -> four stride-2 3x3 conv+ReLU layers
(3->16->32->64->128 channels, 224 -> 14 pixels) -> one residual block
(3x3 conv 128->128, ReLU, plus skip) -> global average pool -> linear
128 -> 1000 -> OUTPUT0 FP32 [batch,1000] (logits).  About 0.4 M parameters
(~1.5 MB of ONNX) and ~80 M multiply-adds per image, a few ms on a CPU.
Weights come from a fixed seed (torch.manual_seed(0)), so reruns produce the
same model.

Writes:
  models/resnet_mini/1/model.onnx   opset 17, dynamic batch dim "batch"
  models/resnet_mini/config.pbtxt   max_batch_size 8, dynamic_batching
  tools/resnet_mini_expected.json   PyTorch's outputs for a 2-image batch
                                    built by a fixed formula (see
                                    test_input()), used by
                                    tools/check_models.mjs

Run from the repository root with Debian's Python (which has python3-torch):

    /usr/bin/python3 tools/make_resnet_mini.py
"""

import json
import os
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "models", "resnet_mini")
SEED = 0

CONFIG = """name: "resnet_mini"
backend: "onnxruntime"
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 3, 224, 224 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_FP32
    dims: [ 1000 ]
  }
]
instance_group [ { count: 1, kind: KIND_CPU } ]
dynamic_batching { max_queue_delay_microseconds: 100 }
"""


class ResNetMini(torch.nn.Module):
    def __init__(self):
        super().__init__()
        chans = [3, 16, 32, 64, 128]
        self.stem = torch.nn.ModuleList(
            torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            for cin, cout in zip(chans[:-1], chans[1:])
        )
        self.block = torch.nn.Conv2d(128, 128, 3, padding=1)
        self.fc = torch.nn.Linear(128, 1000)
        for m in self.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                torch.nn.init.normal_(m.bias, std=0.01)
        # keep the residual branch small, as a trained ResNet's would be
        with torch.no_grad():
            self.block.weight.mul_(0.2)

    def forward(self, x):
        for conv in self.stem:
            x = torch.relu(conv(x))
        x = x + torch.relu(self.block(x))
        x = x.mean(dim=(2, 3))
        return self.fc(x)


def test_input():
    """Deterministic 2-image batch that tools/check_models.mjs rebuilds exactly
    (i = flat index within an image, computed in float64, then cast to float32):
      image 0: ((i * 37) % 101) / 50 - 1        (pseudo-random texture)
      image 1: ((i // 224) % 224) / 112 - 1     (vertical gradient)
    The two give different top-1 classes, so mixed-up batch rows show."""
    n = 3 * 224 * 224
    i = np.arange(n, dtype=np.int64)
    img0 = ((i * 37) % 101) / 50.0 - 1.0
    img1 = ((i // 224) % 224) / 112.0 - 1.0
    return np.stack([img0, img1]).astype(np.float32).reshape(2, 3, 224, 224)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model = ResNetMini().eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters {params}")

    os.makedirs(os.path.join(MODEL_DIR, "1"), exist_ok=True)
    onnx_path = os.path.join(MODEL_DIR, "1", "model.onnx")
    torch.onnx.export(
        model,
        torch.zeros(1, 3, 224, 224),
        onnx_path,
        input_names=["INPUT0"],
        output_names=["OUTPUT0"],
        dynamic_axes={"INPUT0": {0: "batch"}, "OUTPUT0": {0: "batch"}},
        opset_version=17,
        do_constant_folding=True,
    )
    print(f"wrote {os.path.relpath(onnx_path, ROOT)} ({os.path.getsize(onnx_path)} bytes)")
    with open(os.path.join(MODEL_DIR, "config.pbtxt"), "w") as f:
        f.write(CONFIG)
    print("wrote models/resnet_mini/config.pbtxt")

    x = torch.from_numpy(test_input())
    with torch.no_grad():
        out = model(x)
        one = x[:1]
        model(one)
        t0 = time.perf_counter()
        reps = 20
        for _ in range(reps):
            model(one)
        ms = (time.perf_counter() - t0) / reps * 1000
    print(f"torch CPU (1 thread) batch-1 inference {ms:.2f} ms")
    expected = {
        "input": ["((i * 37) % 101) / 50 - 1", "((i // 224) % 224) / 112 - 1"],
        "input_note": "float32, i = flat index within each image; see test_input()",
        "shape": [2, 1000],
        "output": [[float(v) for v in row] for row in out.tolist()],
        "argmax": [int(v) for v in out.argmax(dim=1)],
    }
    with open(os.path.join(ROOT, "tools", "resnet_mini_expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print("wrote tools/resnet_mini_expected.json; argmax", expected["argmax"],
          "max |out|", float(out.abs().max()))


if __name__ == "__main__":
    main()
