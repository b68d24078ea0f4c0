#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Times SAM's decoder fine-tuning step in PyTorch on the CPU, the anchor of `bench-train-step`
(native/bench) and of `sam-ablate bench --what train-step`: the same problem in the same run.
Benchmark-only: nothing in the tests or CI needs it.

    /usr/bin/python3 tools/bench/torch-train-step.py [--threads 2] [--steps 20]   # Debian's python3-torch

The step: batch 1, a 64x64x256 image embedding, 10 positive points + their box, SAM's prompt encoder
and mask decoder (two-way transformer of depth 2, 8 heads, MLP 2048, cross-attention downsampled 2x,
output upscaling to 256x256, 4 mask tokens, IoU head; random weights with the official shapes), the
first mask against a disc with DiceCE (sigmoid, Dice + BCE averaged), Adam on every decoder weight.
Prints the median wall time per step in ms, then the BLAS library the process loaded: Debian's
python3-torch calls whatever libblas.so.3 points to, and the reference (netlib) one that it pulls in
alone makes its products many times slower than with OpenBLAS (apt-get install libopenblas0-pthread).
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

DIM, HEADS, MLP_DIM, DEPTH, E, S = 256, 8, 2048, 2, 64, 1024


class Attention(nn.Module):
    def __init__(self, dim, heads, downsample=1):
        super().__init__()
        inner = dim // downsample
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.out = nn.Linear(inner, dim)

    def split(self, x):
        b, n, c = x.shape
        return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, q, k, v):
        q, k, v = self.split(self.q(q)), self.split(self.k(k)), self.split(self.v(v))
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        o = (a @ v).transpose(1, 2)
        return self.out(o.reshape(o.shape[0], o.shape[1], -1))


class Block(nn.Module):
    def __init__(self, skip_pe):
        super().__init__()
        self.skip_pe = skip_pe
        self.self_attn = Attention(DIM, HEADS)
        self.t2i = Attention(DIM, HEADS, 2)
        self.i2t = Attention(DIM, HEADS, 2)
        self.mlp = nn.Sequential(nn.Linear(DIM, MLP_DIM), nn.ReLU(), nn.Linear(MLP_DIM, DIM))
        self.n1, self.n2, self.n3, self.n4 = (nn.LayerNorm(DIM) for _ in range(4))

    def forward(self, qs, keys, qpe, kpe):
        if self.skip_pe:
            qs = self.self_attn(qs, qs, qs)
        else:
            q = qs + qpe
            qs = qs + self.self_attn(q, q, qs)
        qs = self.n1(qs)
        qs = self.n2(qs + self.t2i(qs + qpe, keys + kpe, keys))
        qs = self.n3(qs + self.mlp(qs))
        keys = self.n4(keys + self.i2t(keys + kpe, qs + qpe, qs))
        return qs, keys


class LayerNorm2d(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + 1e-6)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        # prompt encoder
        self.register_buffer("gauss", torch.randn(2, DIM // 2))
        self.point_embed = nn.Parameter(torch.randn(4, DIM))
        self.no_mask = nn.Parameter(torch.randn(DIM))
        # mask decoder
        self.tokens = nn.Parameter(torch.randn(5, DIM))  # IoU token + 4 mask tokens
        self.blocks = nn.ModuleList(Block(i == 0) for i in range(DEPTH))
        self.final = Attention(DIM, HEADS, 2)
        self.norm_final = nn.LayerNorm(DIM)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(DIM, DIM // 4, 2, 2), LayerNorm2d(DIM // 4), nn.GELU(),
            nn.ConvTranspose2d(DIM // 4, DIM // 8, 2, 2), nn.GELU(),
        )
        self.hyper = nn.ModuleList(mlp(DIM, DIM, DIM // 8) for _ in range(4))
        self.iou = mlp(DIM, 256, 4)

    def pe(self, xy):  # xy in [0, 1]
        p = (2 * xy - 1) @ self.gauss * (2 * math.pi)
        return torch.cat([torch.sin(p), torch.cos(p)], dim=-1)

    def forward(self, emb, points, box):
        grid = (torch.stack(torch.meshgrid(torch.arange(E), torch.arange(E), indexing="ij"), -1).flip(-1) + 0.5) / E
        image_pe = self.pe(grid.float()).reshape(1, E * E, DIM)
        sparse = torch.cat([
            self.pe((points + 0.5) / S) + self.point_embed[1],
            self.pe((box.reshape(2, 2) + 0.5) / S) + self.point_embed[2:4],
        ])[None]
        tokens = torch.cat([self.tokens[None], sparse], dim=1)
        src = (emb + self.no_mask[:, None, None]).flatten(2).transpose(1, 2)
        qs, keys = tokens, src
        for b in self.blocks:
            qs, keys = b(qs, keys, tokens, image_pe)
        qs = self.norm_final(qs + self.final(qs + tokens, keys + image_pe, keys))
        up = self.up(keys.transpose(1, 2).reshape(1, DIM, E, E))
        hyper = torch.stack([self.hyper[i](qs[:, 1 + i]) for i in range(4)], dim=1)
        masks = (hyper @ up.flatten(2)).reshape(1, 4, 4 * E, 4 * E)
        return masks, self.iou(qs[:, 0])


def dice_ce(logits, target):
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + 1e-5) / (p.sum() + target.sum() + 1e-5)
    return dice + F.binary_cross_entropy_with_logits(logits, target)


def blas_in_use():
    """The BLAS libraries mapped into this process, by kind: openblas, blis, mkl, reference, or other."""
    kinds = {}
    try:
        maps = open("/proc/self/maps")
    except OSError:  # not Linux: the anchor's time stands, its BLAS goes unreported
        return kinds
    with maps as f:
        for line in f:
            fields = line.split()
            if len(fields) < 6:
                continue
            path = os.path.realpath(fields[5])
            name = os.path.basename(path)
            if "openblas" in path:
                kind = "openblas"
            elif "blis" in name:
                kind = "blis"
            elif "mkl" in name:
                kind = "mkl"
            elif name.startswith("libblas.so") and os.path.basename(os.path.dirname(path)) == "blas":
                kind = "reference"
            elif name.startswith(("libblas.so", "libflexiblas")):
                kind = "other"
            else:
                continue
            kinds[kind] = path
    return kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dec = Decoder()
    opt = torch.optim.Adam(dec.parameters(), lr=1e-4)
    emb = torch.randn(1, DIM, E, E)
    i = torch.arange(10, dtype=torch.float32)
    points = torch.stack([120 + 30 * torch.cos(i), 130 + 30 * torch.sin(i)], -1) * 4
    box = torch.tensor([70.0, 80.0, 170.0, 180.0]) * 4
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    target = (((xx - 120) ** 2 + (yy - 130) ** 2) < 50 * 50).float()[None, None]

    def step():
        opt.zero_grad(set_to_none=True)
        masks, _ = dec(emb, points, box)
        loss = dice_ce(masks[:, :1], target)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(1e3 * (time.perf_counter() - t0))
    print(f"pytorch {torch.__version__} decoder train step, {a.threads} threads: median {statistics.median(times):.1f} ms over {a.steps} steps")
    kinds = blas_in_use()
    print("blas: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none mapped"))


if __name__ == "__main__":
    main()
