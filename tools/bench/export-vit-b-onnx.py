#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a ViT-B image encoder (SAM's vit_b architecture, random weights) as ONNX for the vit_b
anchor of `sam-ablate bench --anchors --anchor-onnx FILE`. Benchmark-only: nothing in the tests or
CI needs it, and the file it writes stays out of git.

    /usr/bin/python3 tools/bench/export-vit-b-onnx.py /tmp/vit_b.onnx   # Debian's python3-torch

Architecture (as the project's native ViT): 1024x1024 input, 16x16 patches, width 768, 12 blocks of
12 heads (MLP 3072, GELU), 14x14 windows except the global blocks 2, 5, 8, 11, decomposed relative
positions in every block, neck 1x1 conv -> LayerNorm2d -> 3x3 conv -> LayerNorm2d to 256 channels.
"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

IMG, PATCH, DIM, DEPTH, HEADS, MLP, WINDOW, OUT = 1024, 16, 768, 12, 12, 3072, 14, 256
GLOBAL = (2, 5, 8, 11)


class LayerNorm2d(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        x = (x - mu) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def rel_index(size):
    """Index into a (2 size - 1)-row table for every (query, key) pair along one axis."""
    q = torch.arange(size)[:, None]
    k = torch.arange(size)[None, :]
    return (q - k + size - 1).long()


class Attention(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.hd = DIM // HEADS
        self.scale = self.hd**-0.5
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.rel_pos_h = nn.Parameter(torch.randn(2 * size - 1, self.hd) * 0.02)
        self.rel_pos_w = nn.Parameter(torch.randn(2 * size - 1, self.hd) * 0.02)
        self.register_buffer("idx", rel_index(size), persistent=False)

    def forward(self, x):
        B, H, W, _ = x.shape
        qkv = self.qkv(x).reshape(B, H * W, 3, HEADS, self.hd).permute(2, 0, 3, 1, 4).reshape(3, B * HEADS, H * W, self.hd)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        Rh = self.rel_pos_h[self.idx]  # [H, H, hd]
        Rw = self.rel_pos_w[self.idx]  # [W, W, hd]
        rq = q.reshape(B * HEADS, H, W, self.hd)
        rel_h = torch.einsum("bhwc,hkc->bhwk", rq, Rh)
        rel_w = torch.einsum("bhwc,wkc->bhwk", rq, Rw)
        attn = attn.view(B * HEADS, H, W, H, W) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
        attn = attn.view(B * HEADS, H * W, H * W).softmax(dim=-1)
        x = (attn @ v).view(B, HEADS, H, W, self.hd).permute(0, 2, 3, 1, 4).reshape(B, H, W, DIM)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, window):
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = Attention(window if window else IMG // PATCH)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.lin1 = nn.Linear(DIM, MLP)
        self.lin2 = nn.Linear(MLP, DIM)

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        if self.window:
            B, H, W, C = x.shape
            w = self.window
            ph, pw = (w - H % w) % w, (w - W % w) % w
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
            Hp, Wp = H + ph, W + pw
            x = x.view(B, Hp // w, w, Wp // w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, w, w, C)
            x = self.attn(x)
            x = x.view(B, Hp // w, Wp // w, w, w, C).permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, C)
            x = x[:, :H, :W, :]
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.lin2(F.gelu(self.lin1(self.norm2(x))))


class ViTB(nn.Module):
    def __init__(self):
        super().__init__()
        g = IMG // PATCH
        self.patch_embed = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.pos_embed = nn.Parameter(torch.randn(1, g, g, DIM) * 0.02)
        self.blocks = nn.ModuleList(Block(0 if i in GLOBAL else WINDOW) for i in range(DEPTH))
        self.neck = nn.Sequential(
            nn.Conv2d(DIM, OUT, 1, bias=False), LayerNorm2d(OUT), nn.Conv2d(OUT, OUT, 3, padding=1, bias=False), LayerNorm2d(OUT)
        )

    def forward(self, x):
        x = self.patch_embed(x).permute(0, 2, 3, 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.neck(x.permute(0, 3, 1, 2))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "vit_b.onnx"
    torch.manual_seed(0)
    model = ViTB().eval()
    x = torch.randn(1, 3, IMG, IMG)
    # One traced forward pass (about 0.5 TFLOP: with Debian's reference BLAS that takes many minutes;
    # LD_LIBRARY_PATH to an OpenBLAS libblas.so.3 makes it seconds).
    with torch.no_grad():
        torch.onnx.export(model, x, out, input_names=["image"], output_names=["embeddings"], opset_version=17,
                          dynamic_axes={"image": {0: "B"}, "embeddings": {0: "B"}}, do_constant_folding=True)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
