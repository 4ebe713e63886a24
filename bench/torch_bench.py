#!/usr/bin/python3
"""torch_bench.py — the same training step as bench/bench.c, in PyTorch, for a
side-by-side speed comparison. Never part of the tests or of `make run`.

Needs Debian's python3-torch and an optimised BLAS beside it
(`apt-get install python3-torch libopenblas0-pthread`): Debian builds torch
against the generic BLAS interface, and with only the reference libblas3
installed its matmuls run ~20x slower (1,000 instead of 20,000 tokens/s).
Run it with the system Python:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_bench.py --threads 2

It builds a nanoGPT-equivalent GPT-2 (learned positions, pre-LayerNorm, GELU
tanh, tied output layer, Vp-padded vocabulary), trains it on random tokens with
AdamW and gradient clipping, and prints one line per config in bench.c's format:

    bench config=A threads=2 tokens_per_s=... gflops=... peak_rss_mb=... impl=pytorch
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # name: (V, L, NH, C, B, T, steps) — the same as bench/bench.c
    "A": (256, 4, 4, 128, 16, 64, 20),
    "B": (512, 6, 6, 192, 8, 128, 10),
}


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.attproj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.fcproj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attproj(y)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, L, NH, C, maxT):
        super().__init__()
        self.V, self.Vp = V, (V + 63) // 64 * 64
        self.wte = nn.Embedding(self.Vp, C)
        self.wpe = nn.Embedding(maxT, C)
        self.blocks = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.blocks:
            x = block(x)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits[..., : self.V].reshape(-1, self.V), targets.reshape(-1))


def bench(name, threads):
    V, L, NH, C, B, T, steps = CONFIGS[name]
    torch.manual_seed(42)
    model = GPT(V, L, NH, C, T)
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    idx = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    elapsed = 0.0
    for step in range(steps + 1):
        t0 = time.perf_counter()
        loss = model(idx, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step > 0:  # step 0 warms up, as in bench.c
            elapsed += time.perf_counter() - t0
    tokens = B * T * steps
    flops = 6.0 * (nparams - T * C) + 3.0 * (2.0 * 2.0 * L * T * C * 0.5)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"bench config={name} threads={threads} tokens_per_s={tokens / elapsed:.0f} "
          f"gflops={tokens * flops / elapsed / 1e9:.1f} peak_rss_mb={rss:.1f} impl=pytorch", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    ap.add_argument("--config", choices=sorted(CONFIGS), help="run one config (default: both)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    for name in sorted(CONFIGS):
        if args.config in (None, name):
            bench(name, threads)


if __name__ == "__main__":
    main()
