"""Train the "digits" example model: a small MLP classifier for 8x8 digit images.

Uses scikit-learn's bundled digits dataset (sklearn.datasets.load_digits, no
download; 1797 images of 8x8 pixels with values 0..16, scaled here by 1/16),
split 75% / 25% with random_state 0 (450 held-out test images), and trains a
64 -> 64 -> 10 ReLU MLP with PyTorch (fixed seeds, one thread, so reruns give
the same weights).  Writes:

  models/digits/1/model.onnx   INPUT0 FP32 [batch,64] -> OUTPUT0 FP32 [batch,10]
                               (logits), opset 17, dynamic batch dim "batch"
  models/digits/config.pbtxt   max_batch_size 32, OUTPUT0 label_filename labels.txt
  models/digits/labels.txt     zero .. nine, line i is class i
  models/digits/sample.json    {"inputs": [[64 floats], ...], "labels": [...]}:
                               the first 5 held-out test images
  tools/digits_accuracy.txt    the test accuracy, one line
  tools/digits_expected.json   PyTorch's logits for the 5 sample images, used
                               by tools/check_models.mjs

Run from the repository root with Debian's Python (which has python3-torch and
python3-sklearn):

    /usr/bin/python3 tools/train_digits.py
"""

import json
import os
import random

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "models", "digits")
SEED = 0
LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

CONFIG = """name: "digits"
backend: "onnxruntime"
max_batch_size: 32
input [
  {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 64 ]
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_FP32
    dims: [ 10 ]
    label_filename: "labels.txt"
  }
]
instance_group [ { count: 1, kind: KIND_CPU } ]
"""


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0
    )
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xe, ye = torch.from_numpy(x_test), torch.from_numpy(y_test)

    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    batch = 64
    for epoch in range(60):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    model.eval()
    with torch.no_grad():
        pred = model(xe).argmax(dim=1)
        acc = (pred == ye).float().mean().item()
        train_acc = (model(xt).argmax(dim=1) == yt).float().mean().item()
    line = f"test accuracy {acc:.4f} on {len(ye)} held-out images"
    print(f"train accuracy {train_acc:.4f} on {len(yt)} images")
    print(line)
    with open(os.path.join(ROOT, "tools", "digits_accuracy.txt"), "w") as f:
        f.write(line + "\n")

    os.makedirs(os.path.join(MODEL_DIR, "1"), exist_ok=True)
    onnx_path = os.path.join(MODEL_DIR, "1", "model.onnx")
    torch.onnx.export(
        model,
        torch.zeros(1, 64),
        onnx_path,
        input_names=["INPUT0"],
        output_names=["OUTPUT0"],
        dynamic_axes={"INPUT0": {0: "batch"}, "OUTPUT0": {0: "batch"}},
        opset_version=17,
        do_constant_folding=True,
    )
    print("wrote", os.path.relpath(onnx_path, ROOT))

    with open(os.path.join(MODEL_DIR, "config.pbtxt"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(MODEL_DIR, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")

    n = 5
    sample = {
        "inputs": [[float(v) for v in row] for row in x_test[:n]],
        "labels": [int(v) for v in y_test[:n]],
    }
    with open(os.path.join(MODEL_DIR, "sample.json"), "w") as f:
        json.dump(sample, f)
        f.write("\n")
    with torch.no_grad():
        logits = model(xe[:n])
    expected = {
        "inputs": "models/digits/sample.json",
        "logits": [[float(v) for v in row] for row in logits.tolist()],
        "argmax": [int(v) for v in logits.argmax(dim=1)],
    }
    with open(os.path.join(ROOT, "tools", "digits_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote models/digits/{config.pbtxt,labels.txt,sample.json}, "
          "tools/digits_accuracy.txt, tools/digits_expected.json")
    print("sample labels", sample["labels"], "predicted", expected["argmax"])


if __name__ == "__main__":
    main()
