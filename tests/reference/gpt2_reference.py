#!/usr/bin/python3
"""gpt2_reference.py - an independent GPT-2 in PyTorch, to check src/gpt.c against.

Writes tests/reference/gpt2_tiny_reference.bin (layout in README.md beside this
file): a tiny random model as an llm.c checkpoint, a batch of tokens and
targets, and what PyTorch computes for them: the logits, the mean loss and the
gradient of that loss with respect to every parameter. tests/test_gpt.c reads
it. The file is committed; this script is only needed to regenerate it:

    /usr/bin/python3 tests/reference/gpt2_reference.py     (torch >= 1.12)

The model is written from scratch (not nanoGPT's or llm.c's code) so that a
mistake shared with the C would have to be made twice. Everything runs in
float64 on parameters already rounded to float32, so the stored answers are
the exact answers for the stored float32 model, up to float32 rounding.
"""
import math
import os
import struct

import torch
import torch.nn.functional as F

# the tiny config: T < maxT (unused position rows get zero gradient), V < Vp
maxT, V, Vp, L, NH, C = 16, 60, 64, 2, 2, 16
B, T = 2, 8
NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
SHAPES = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C),
          (L, C), (L, C), (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
MODEL_MAGIC, MODEL_VERSION = 20240326, 3
REF_MAGIC, REF_VERSION = 20240327, 1   # the appended reference section


def init_params(gen):
    """Random parameters, larger than GPT-2's N(0, 0.02) so that the test
    exercises the nonlinear parts: attention scores and logits of order 1
    (not near-uniform softmaxes), GELU inputs of order 1 (not its linear
    middle), random biases and LayerNorm gains != 1 so that every parameter
    changes the loss. Padded wte rows V..Vp-1 are nonzero on purpose: their
    logits are then nonzero and the loss must still ignore them."""
    std = {"wte": 0.5, "wpe": 0.5, "qkvw": 0.3, "attprojw": 0.3, "fcw": 0.3, "fcprojw": 0.15}
    p = {}
    for name, shape in zip(NAMES, SHAPES):
        if name in ("ln1w", "ln2w", "lnfw"):
            w = 1.0 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif name in std:
            w = std[name] * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:  # biases and LayerNorm shifts
            w = 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
        # round to float32 first: the reference is then exact for the stored model
        p[name] = w.float().double().requires_grad_(True)
    return p


def forward(p, idx):
    """logits (B,T,Vp) of GPT-2: pre-LN blocks, causal attention, GELU(tanh) MLP."""
    b, t = idx.shape
    hs = C // NH
    x = p["wte"][idx] + p["wpe"][:t]                       # (B,T,C)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]            # nn.Linear: weight is (out, in)
        q, k, v = qkv.split(C, dim=2)                       # q | k | v, heads side by side
        q, k, v = (z.view(b, t, NH, hs).transpose(1, 2) for z in (q, k, v))  # (B,NH,T,hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(h @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    return x @ p["wte"].T                                   # tied output layer, all Vp columns


def main():
    gen = torch.Generator().manual_seed(1234)
    p = init_params(gen)
    inputs = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    logits = forward(p, inputs)
    # the loss sees only the V real columns: padding is not a token
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1))
    loss.backward()

    f32 = lambda t: t.detach().to(torch.float32).contiguous().numpy().tobytes()
    i32 = lambda t: t.to(torch.int32).contiguous().numpy().tobytes()
    header = [MODEL_MAGIC, MODEL_VERSION, maxT, V, L, NH, C, Vp] + [0] * 248
    out = bytearray(struct.pack("<256i", *header))
    for name in NAMES:
        out += f32(p[name])
    out += struct.pack("<4i", REF_MAGIC, REF_VERSION, B, T)
    out += i32(inputs) + i32(targets) + f32(logits) + struct.pack("<f", loss.item())
    for name in NAMES:
        out += f32(p[name].grad)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2_tiny_reference.bin")
    with open(path, "wb") as f:
        f.write(out)
    nparams = sum(p[n].numel() for n in NAMES)
    print(f"wrote {path}: {len(out)} bytes, {nparams} parameters, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
