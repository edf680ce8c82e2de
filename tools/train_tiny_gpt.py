"""Train "tiny_gpt": a ~1M-parameter GPT-2-style language model that runs offline.

Corpus: every regular file in /usr/share/common-licenses/ (the licence texts Debian ships:
Apache-2.0, Artistic, BSD, CC0-1.0, GFDL-1.2/1.3, GPL-1/2/3, LGPL-2/2.1/3, MPL-1.1/2.0; the
symlinks GPL, LGPL, GFDL are skipped), read in sorted order, 237 KB of ASCII English.
The last 10% of each document's tokens is held out for validation (the licences share a lot
of wording, so the validation loss is an optimistic measure of generalisation).

Tokenizer: byte-level BPE learned here.  Ids 0..255 are the bytes, 256..1022 are 767 merges
(merge k makes id 256+k), 1023 is <|endoftext|> (appended after each document in training and
put in front of every prompt at inference time).  Text is first split into chunks by the
GPT-2-like byte regex PRETOKENIZE below (contractions / optional space + letters / optional
space + digits / optional space + punctuation / whitespace), then each chunk is encoded by
repeatedly merging the adjacent pair with the lowest merge rank.  models/tiny_gpt/1/tokenizer.ts
implements the same encoder; the text "<|endoftext|>" is never parsed as the special token.

Model: decoder-only transformer, learned position embeddings, pre-LayerNorm, GELU MLP, tied
input/output embeddings, no dropout; n_layer 4, n_head 4, d_model 128, context 256, vocab 1024
(957,184 parameters).  AdamW, batch 8 x 256 tokens, a fixed number of steps (STEPS, 450) with
warmup + cosine decay, 2 CPU threads, fixed seeds: a rerun gives the same weights on the same
machine and torch version (unless the MAX_TRAIN_SECONDS safety cap stops it early).

Writes:
  models/tiny_gpt/1/tokenizer.json   {"merges": [[a, b], ...] (rank order), "vocab_size", "eos_id", ...}
  models/tiny_gpt/1/gpt.onnx         opset 17, one graph for prefill and decode with a KV cache:
      inputs   input_ids     INT64 [1, T]
               position_ids  INT64 [1, T]     (absolute positions P .. P+T-1)
               past_key_i    FP32  [1, 4, P, 32]  for i in 0..3  (P may be 0)
               past_value_i  FP32  [1, 4, P, 32]
      outputs  logits        FP32  [1, T, 1024]  (every new position)
               present_key_i FP32  [1, 4, P+T, 32]
               present_value_i FP32 [1, 4, P+T, 32]
      New tokens attend causally among themselves and fully to the past.
  tools/tiny_gpt_training.txt          parameter count, steps, time, final train/val loss
  tools/tiny_gpt_tokenizer_cases.json  fixtures for tools/check_tiny_gpt.mjs: token ids of sample
                                       strings, greedy continuations (ids and text) and the
                                       logits of the first two steps

Also checks in PyTorch that decoding with the KV cache gives the same logits (to 1e-4) as
recomputing the whole sequence, over a 20-token continuation.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-onnx), not the
pyenv python3 that may come first on PATH:

    /usr/bin/python3 tools/train_tiny_gpt.py            # about 5 minutes on 2 cores
    TINY_GPT_STEPS=50 /usr/bin/python3 tools/train_tiny_gpt.py   # a quick smoke run
"""

import json
import math
import os
import random
import re
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "models", "tiny_gpt", "1")
LICENSE_DIR = "/usr/share/common-licenses"
SEED = 1234

N_MERGES = 767
VOCAB = 256 + N_MERGES + 1  # 1024
EOS = VOCAB - 1
EOS_TEXT = "<|endoftext|>"

CTX = 256
N_LAYER = 4
N_HEAD = 4
D_MODEL = 128
DROPOUT = 0.0  # too few steps to overfit much; dropout only slowed the descent

BATCH = 8
STEPS = int(os.environ.get("TINY_GPT_STEPS", "450"))
# A safety cap on training wall-clock time; a run that hits it stops early (and says so), so it
# is then no longer reproducible step for step.  The default step count takes about 4 min on 2 idle
# cores, and about 7 when other work shares them.
MAX_TRAIN_SECONDS = float(os.environ.get("TINY_GPT_MAX_SECONDS", "480"))
WARMUP = 50
LR = 6e-3
MIN_LR = 1e-4
WEIGHT_DECAY = 0.1
EVAL_EVERY = 100

# GPT-2's pre-tokenizer, restated on bytes with explicit ASCII classes so that JavaScript can
# run the very same pattern on a latin1 view of the UTF-8 bytes ("letters" include every byte
# >= 0x80, so a multi-byte character never splits across chunks).
PRETOKENIZE = re.compile(
    rb"'(?:s|t|re|ve|m|ll|d)"
    rb"| ?[A-Za-z\x80-\xff]+"
    rb"| ?[0-9]+"
    rb"| ?[^ \t\n\x0b\x0c\rA-Za-z0-9\x80-\xff]+"
    rb"|[ \t\n\x0b\x0c\r]+(?![^ \t\n\x0b\x0c\r])"
    rb"|[ \t\n\x0b\x0c\r]+"
)

TOKENIZER_CASES = [
    "This program is free software",
    "Hello, world! It's 2024 -- isn't it?",
    "  leading spaces,\ttabs\tand\n\nnewlines \n  ",
    "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001f389 emoji",
    "they'll we've I'm you'd she's THEY'RE",
    "<|endoftext|> is plain text here",
    "",
    "a",
    "   ",
    "x = f(y) + 3.14159; // done!!!",
]

GREEDY_PROMPTS = [
    ("This program is free software", 40),
    ("Permission is hereby granted", 24),
    ("", 16),
]


# ----------------------------------------------------------------------------- tokenizer

def pretokenize(data: bytes):
    return PRETOKENIZE.findall(data)


def train_bpe(chunk_counts, n_merges):
    """Learn n_merges merges from {chunk bytes: count}. Ties go to the smallest pair."""
    keys = sorted(chunk_counts)
    words = [list(k) for k in keys]
    counts = [chunk_counts[k] for k in keys]
    pair_counts = defaultdict(int)
    where = defaultdict(set)
    for wi, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_counts[p] += counts[wi]
            where[p].add(wi)
    merges = []
    for k in range(n_merges):
        best = max(pair_counts.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        pair, count = best
        if count < 2:
            raise SystemExit(f"only {k} merges with a count of 2 or more")
        new_id = 256 + k
        merges.append(pair)
        for wi in sorted(where[pair]):
            w = words[wi]
            c = counts[wi]
            for p in zip(w, w[1:]):
                pair_counts[p] -= c
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == pair[0] and w[i + 1] == pair[1]:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            for p in zip(out, out[1:]):
                pair_counts[p] += c
                where[p].add(wi)
            words[wi] = out
        for p in [p for p, v in pair_counts.items() if v <= 0]:
            del pair_counts[p]
        del where[pair]
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.token_bytes = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.token_bytes.append(b"")  # <|endoftext|> decodes to nothing
        self.cache = {}

    def encode_chunk(self, chunk: bytes):
        ids = list(chunk)
        while len(ids) >= 2:
            best_rank = None
            for i in range(len(ids) - 1):
                r = self.ranks.get((ids[i], ids[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank = r
            if best_rank is None:
                break
            a, b = self.merges[best_rank]
            new_id = 256 + best_rank
            out = []
            i = 0
            while i < len(ids):
                if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            ids = out
        return ids

    def encode(self, text: str):
        ids = []
        for chunk in pretokenize(text.encode("utf-8")):
            got = self.cache.get(chunk)
            if got is None:
                got = self.encode_chunk(chunk)
                self.cache[chunk] = got
            ids.extend(got)
        return ids

    def decode(self, ids):
        return b"".join(self.token_bytes[i] for i in ids).decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- model

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.fc = nn.Linear(D_MODEL, 4 * D_MODEL)
        self.fc2 = nn.Linear(4 * D_MODEL, D_MODEL)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, x, past_k, past_v, mask):
        b, t, c = x.shape
        hd = D_MODEL // N_HEAD  # a constant, not a traced shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, N_HEAD, hd).transpose(1, 2) * (1.0 / math.sqrt(hd))
        k = k.view(b, t, N_HEAD, hd).transpose(1, 2)
        v = v.view(b, t, N_HEAD, hd).transpose(1, 2)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-2, -1)).masked_fill(~mask, -1e9)
        att = F.softmax(att, dim=-1)  # no dropout on the [T, P+T] weights: it costs 10% of a step
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.fc2(F.gelu(self.fc(self.ln2(x)))))
        return x, k, v


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D_MODEL)
        self.wpe = nn.Embedding(CTX, D_MODEL)
        self.drop = nn.Dropout(DROPOUT)
        self.blocks = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.ln_f = nn.LayerNorm(D_MODEL)
        self.apply(self._init)
        for blk in self.blocks:  # GPT-2's scaled init of the residual projections
            nn.init.normal_(blk.proj.weight, std=0.02 / math.sqrt(2 * N_LAYER))
            nn.init.normal_(blk.fc2.weight, std=0.02 / math.sqrt(2 * N_LAYER))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, input_ids, position_ids, past=None):
        """past: None or a list of (key, value) per layer, each [B, H, P, Dh].
        Returns logits [B, T, V] and the list of present (key, value) [B, H, P+T, Dh]."""
        t = input_ids.shape[1]
        p = 0 if past is None else past[0][0].shape[2]
        q_pos = torch.arange(t) + p
        k_pos = torch.arange(p + t)
        mask = k_pos[None, :] <= q_pos[:, None]  # [T, P+T]
        x = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        present = []
        for i, blk in enumerate(self.blocks):
            pk, pv = (None, None) if past is None else past[i]
            x, k, v = blk(x, pk, pv, mask)
            present.append((k, v))
        x = self.ln_f(x)
        logits = x @ self.wte.weight.t()
        return logits, present


class OnnxWrapper(nn.Module):
    """Flat inputs/outputs for export: (input_ids, position_ids, past_key_0, past_value_0, ...)."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(N_LAYER)]
        logits, present = self.gpt(input_ids, position_ids, past)
        out = [logits]
        for k, v in present:
            out += [k, v]
        return tuple(out)


def empty_past(p=0):
    hd = D_MODEL // N_HEAD
    return [(torch.zeros(1, N_HEAD, p, hd), torch.zeros(1, N_HEAD, p, hd)) for _ in range(N_LAYER)]


def full_logits(model, ids):
    x = torch.tensor([ids])
    logits, _ = model(x, torch.arange(len(ids))[None, :])
    return logits[0]


def greedy_cached(model, prompt_ids, n):
    """Greedy decoding with the KV cache, stopping after n tokens or at <|endoftext|>.
    Returns the new ids and the logits of each step (the prefill's last position first)."""
    past = empty_past(0)
    ids = list(prompt_ids)
    logits, past = model(torch.tensor([ids]), torch.arange(len(ids))[None, :], past)
    step_logits = [logits[0, -1]]
    out = []
    while True:
        nxt = int(torch.argmax(step_logits[-1]))
        if nxt == EOS:
            break
        out.append(nxt)
        if len(out) == n:
            break
        pos = len(ids)
        ids.append(nxt)
        logits, past = model(torch.tensor([[nxt]]), torch.tensor([[pos]]), past)
        step_logits.append(logits[0, -1])
    return out, step_logits


# ----------------------------------------------------------------------------- main

def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    os.makedirs(OUT_DIR, exist_ok=True)

    names = sorted(n for n in os.listdir(LICENSE_DIR)
                   if os.path.isfile(os.path.join(LICENSE_DIR, n))
                   and not os.path.islink(os.path.join(LICENSE_DIR, n)))
    docs = []
    for n in names:
        with open(os.path.join(LICENSE_DIR, n), "rb") as f:
            docs.append(f.read())
    total = sum(len(d) for d in docs)
    print(f"corpus: {len(docs)} files, {total} bytes: {' '.join(names)}")

    # --- tokenizer
    t0 = time.time()
    chunk_counts = defaultdict(int)
    for d in docs:
        for ch in pretokenize(d):
            chunk_counts[ch] += 1
    merges = train_bpe(chunk_counts, N_MERGES)
    tok = Tokenizer(merges)
    print(f"BPE: {len(chunk_counts)} distinct chunks, {len(merges)} merges in {time.time() - t0:.1f}s")
    with open(os.path.join(OUT_DIR, "tokenizer.json"), "w") as f:
        json.dump({
            "type": "byte-level BPE",
            "pretokenize": PRETOKENIZE.pattern.decode("latin1"),
            "merges": [list(m) for m in merges],
            "vocab_size": VOCAB,
            "eos_id": EOS,
            "eos_text": EOS_TEXT,
            "context": CTX,
        }, f, separators=(",", ":"))
        f.write("\n")

    train_ids, val_ids = [], []
    for d in docs:
        ids = tok.encode(d.decode("utf-8"))
        cut = int(len(ids) * 0.9)
        train_ids += ids[:cut] + [EOS]
        val_ids += ids[cut:] + [EOS]
    print(f"tokens: train {len(train_ids)}, val {len(val_ids)} "
          f"({total / (len(train_ids) + len(val_ids)):.2f} bytes/token)")
    train = torch.tensor(train_ids, dtype=torch.long)
    val = torch.tensor(val_ids, dtype=torch.long)

    # --- model
    model = GPT()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(SEED)
    positions = torch.arange(CTX)[None, :]

    def lr_at(step):
        if step < WARMUP:
            return LR * (step + 1) / WARMUP
        frac = (step - WARMUP) / max(1, STEPS - WARMUP)
        return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * frac))

    def batch(data, g):
        ix = torch.randint(len(data) - CTX - 1, (BATCH,), generator=g)
        x = torch.stack([data[i:i + CTX] for i in ix])
        y = torch.stack([data[i + 1:i + CTX + 1] for i in ix])
        return x, y

    @torch.no_grad()
    def evaluate(data):
        was_training = model.training
        model.eval()
        losses = []
        for s in range(0, len(data) - 1, CTX):
            x = data[s:s + CTX][None, :]
            y = data[s + 1:s + CTX + 1][None, :]
            x = x[:, :y.shape[1]]
            logits, _ = model(x, positions[:, :x.shape[1]])
            losses.append((F.cross_entropy(logits[0], y[0], reduction="sum").item(), y.shape[1]))
        model.train(was_training)
        return sum(a for a, _ in losses) / sum(n for _, n in losses)

    t0 = time.time()
    model.train()
    running = None
    stopped_early = None
    for step in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, y = batch(train, gen)
        logits, _ = model(x, positions.expand(BATCH, CTX))
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % 20 == 0 or step == STEPS - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  (smoothed {running:.4f})  "
                  f"lr {lr_at(step):.2e}  {time.time() - t0:6.1f}s", flush=True)
        if time.time() - t0 > MAX_TRAIN_SECONDS and step != STEPS - 1:
            stopped_early = step + 1
            print(f"stopping after {step + 1} of {STEPS} steps: over {MAX_TRAIN_SECONDS:.0f}s", flush=True)
            break
        if (step + 1) % EVAL_EVERY == 0 and step != STEPS - 1:
            print(f"          val loss {evaluate(val):.4f}", flush=True)
    train_time = time.time() - t0
    model.eval()
    train_loss = evaluate(train)
    val_loss = evaluate(val)
    print(f"final: train loss {train_loss:.4f}, val loss {val_loss:.4f}, {train_time:.0f}s")

    # --- KV cache check: cached decoding == full recomputation
    with torch.no_grad():
        prompt = [EOS] + tok.encode("This program is free software")
        new, step_logits = greedy_cached(model, prompt, 20)
        seq = prompt + new
        full = full_logits(model, seq)
        worst = 0.0
        for i, lg in enumerate(step_logits):
            worst = max(worst, float((lg - full[len(prompt) - 1 + i]).abs().max()))
        print(f"KV cache check: {len(step_logits)} steps, max |cached - full| = {worst:.2e}")
        assert len(new) == 20, "the check wants a 20-token continuation"
        assert worst < 1e-4, worst

    # --- ONNX export
    onnx_path = os.path.join(OUT_DIR, "gpt.onnx")
    names_in = ["input_ids", "position_ids"]
    names_out = ["logits"]
    dyn = {"input_ids": {1: "T"}, "position_ids": {1: "T"}, "logits": {1: "T"}}
    for i in range(N_LAYER):
        names_in += [f"past_key_{i}", f"past_value_{i}"]
        names_out += [f"present_key_{i}", f"present_value_{i}"]
        for n in (f"past_key_{i}", f"past_value_{i}"):
            dyn[n] = {2: "P"}
        for n in (f"present_key_{i}", f"present_value_{i}"):
            dyn[n] = {2: "P_plus_T"}
    ex_past = [t for kv in empty_past(3) for t in kv]
    ex_ids = torch.tensor([[5, 6]])
    ex_pos = torch.tensor([[3, 4]])
    wrapper = OnnxWrapper(model).eval()
    with torch.no_grad():
        torch.onnx.export(wrapper, (ex_ids, ex_pos, *ex_past), onnx_path,
                          input_names=names_in, output_names=names_out, dynamic_axes=dyn,
                          opset_version=17, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))
    print(f"wrote {os.path.relpath(onnx_path, ROOT)} ({os.path.getsize(onnx_path)} bytes)")

    # --- fixtures for tools/check_tiny_gpt.mjs
    cases = {"tokenizer": [{"text": s, "ids": tok.encode(s)} for s in TOKENIZER_CASES]}
    for c in cases["tokenizer"]:
        assert tok.decode(c["ids"]) == c["text"], c
    greedy = []
    with torch.no_grad():
        for text, n in GREEDY_PROMPTS:
            prompt = [EOS] + tok.encode(text)
            new, step_logits = greedy_cached(model, prompt, n)
            greedy.append({
                "prompt": text,
                "prompt_ids": prompt,
                "max_tokens": n,
                "ids": new,
                "text": tok.decode(new),
                "finish_reason": "length" if len(new) == n else "eos",
                "first_logits": [round(float(v), 6) for v in step_logits[0]],
                "second_logits": [round(float(v), 6) for v in step_logits[1]] if len(step_logits) > 1 else None,
            })
            print(f"greedy {text!r} -> {tok.decode(new)!r}")
    cases["greedy"] = greedy
    with open(os.path.join(ROOT, "tools", "tiny_gpt_tokenizer_cases.json"), "w") as f:
        json.dump(cases, f)
        f.write("\n")

    with open(os.path.join(ROOT, "tools", "tiny_gpt_training.txt"), "w") as f:
        f.write(f"tiny_gpt: {n_params} parameters (n_layer {N_LAYER}, n_head {N_HEAD}, d_model {D_MODEL}, "
                f"context {CTX}, vocab {VOCAB})\n")
        f.write(f"corpus: {len(docs)} licence texts from {LICENSE_DIR}, {total} bytes; "
                f"{len(train_ids)} train / {len(val_ids)} val tokens\n")
        steps_done = stopped_early or STEPS
        note = f" (stopped early by the {MAX_TRAIN_SECONDS:.0f}s cap)" if stopped_early else ""
        f.write(f"training: {steps_done} steps{note} of {BATCH}x{CTX} tokens, {train_time:.0f}s on "
                f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}\n")
        f.write(f"final train loss {train_loss:.4f} (nats/token), val loss {val_loss:.4f}\n")
        f.write(f"KV cache check: max |cached - full| logit difference {worst:.2e} over 20 tokens\n")
    print("wrote models/tiny_gpt/1/{tokenizer.json,gpt.onnx}, tools/tiny_gpt_training.txt, "
          "tools/tiny_gpt_tokenizer_cases.json")


if __name__ == "__main__":
    main()
