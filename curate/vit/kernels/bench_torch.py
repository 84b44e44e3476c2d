#!/usr/bin/env python3
"""Frames per second of a randomly initialised CLIP ViT-B/32 vision tower in
PyTorch, the yardstick for clipfs's CUDA runtime (bench/vitbench, and
BenchmarkViTB32CUDA in curate/vit).

Run on the GPU machine:

    python3 curate/vit/kernels/bench_torch.py [--batches 1,64,256] [--min-time 3]

or on the CPU (bench/run.sh vit uses it as the baseline of clipfs's CPU
runtime, with --csv printing "batch frames/s" lines):

    python3 curate/vit/kernels/bench_torch.py --device cpu --csv

It builds transformers' CLIPVisionModelWithProjection from a CLIPVisionConfig
when transformers is importable (eager attention, as clipfs computes it, and
also PyTorch's SDPA), else an equivalent torch.nn model written here, and
times float32 inference with TF32 off (like for like with clipfs's default)
and then with TF32 on, each after a warm-up, synchronising the GPU around
the timed loop. The output embeddings are the projected class tokens, as in
clipfs.
"""

import argparse
import time

import torch
from torch import nn

HIDDEN, INTERMEDIATE, LAYERS, HEADS = 768, 3072, 12, 12
PATCH, IMAGE, PROJECTION, EPS = 32, 224, 512, 1e-5


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Layer(nn.Module):
    """One pre-norm encoder layer, as HF's CLIPEncoderLayer."""

    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(HIDDEN, eps=EPS)
        self.q = nn.Linear(HIDDEN, HIDDEN)
        self.k = nn.Linear(HIDDEN, HIDDEN)
        self.v = nn.Linear(HIDDEN, HIDDEN)
        self.o = nn.Linear(HIDDEN, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN, eps=EPS)
        self.mlp = nn.Sequential(nn.Linear(HIDDEN, INTERMEDIATE), QuickGELU(), nn.Linear(INTERMEDIATE, HIDDEN))

    def forward(self, x):
        b, t, d = x.shape
        hd = d // HEADS
        h = self.ln1(x)

        def split(y):
            return y.view(b, t, HEADS, hd).transpose(1, 2)

        q, k, v = split(self.q(h) * hd**-0.5), split(self.k(h)), split(self.v(h))
        a = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class VisionTower(nn.Module):
    """CLIPVisionModelWithProjection's forward pass, to the image embeddings."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, HIDDEN, PATCH, stride=PATCH, bias=False)
        self.cls = nn.Parameter(torch.randn(HIDDEN) * 0.02)
        self.pos = nn.Parameter(torch.randn((IMAGE // PATCH) ** 2 + 1, HIDDEN) * 0.02)
        self.pre = nn.LayerNorm(HIDDEN, eps=EPS)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.post = nn.LayerNorm(HIDDEN, eps=EPS)
        self.proj = nn.Linear(HIDDEN, PROJECTION, bias=False)

    def forward(self, pixel_values):
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.pos
        x = self.pre(x)
        for layer in self.layers:
            x = layer(x)
        return self.proj(self.post(x[:, 0]))


def build_models(device):
    """Returns [(name, callable images -> embeddings)]."""
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    except ImportError as e:
        print(f"transformers not importable ({e}); using the torch.nn model")
        m = VisionTower().to(device).eval()
        return [("torch.nn", m)]
    out = []
    for attn in ("eager", "sdpa"):
        cfg = CLIPVisionConfig(
            hidden_size=HIDDEN,
            intermediate_size=INTERMEDIATE,
            num_hidden_layers=LAYERS,
            num_attention_heads=HEADS,
            patch_size=PATCH,
            image_size=IMAGE,
            projection_dim=PROJECTION,
            layer_norm_eps=EPS,
            hidden_act="quick_gelu",
        )
        try:
            m = CLIPVisionModelWithProjection._from_config(cfg, attn_implementation=attn)
        except (TypeError, ValueError):
            m = CLIPVisionModelWithProjection(cfg)
        m = m.to(device).eval()
        out.append((f"transformers {attn}", lambda x, m=m: m(pixel_values=x).image_embeds))
    return out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_batch(model, batch, device, min_time, min_iters):
    """Frames per second of model at batch, after a warm-up."""
    x = torch.randn(batch, 3, IMAGE, IMAGE, device=device)
    with torch.inference_mode():
        for _ in range(1 if device.type == "cpu" else 3):
            model(x)
        sync(device)
        iters, start = 0, time.perf_counter()
        while iters < min_iters or time.perf_counter() - start < min_time:
            model(x)
            iters += 1
        sync(device)
        secs = time.perf_counter() - start
    return iters, secs, batch * iters / secs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,64,256")
    p.add_argument("--min-time", type=float, default=3.0, help="seconds per measurement")
    p.add_argument("--min-iters", type=int, default=5)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--csv", action="store_true", help='print only "batch frames/s" lines (fp32, first model)')
    args = p.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.device == "cpu":
        import os

        torch.set_num_threads(os.cpu_count())  # some builds start with one
        device = torch.device("cpu")
        models = build_models(device)
        name, model = models[0]
        for batch in batches:
            iters, secs, fps = time_batch(model, batch, device, args.min_time, 1)
            print(f"{batch} {fps:.3f}" if args.csv else f"{name} cpu batch {batch}: {fps:.2f} frames/s", flush=True)
        return
    if not torch.cuda.is_available():
        raise SystemExit("bench_torch: no CUDA GPU visible to PyTorch")
    device = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(device)}")
    models = build_models(device)
    print(f"{'model':<22} {'precision':<10} {'batch':>6} {'iters':>6} {'seconds':>9} {'frames/s':>10}")
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        precision = "tf32" if tf32 else "fp32"
        for name, model in models:
            for batch in batches:
                iters, secs, fps = time_batch(model, batch, device, args.min_time, args.min_iters)
                print(f"{name:<22} {precision:<10} {batch:>6} {iters:>6} {secs:>9.3f} {fps:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
