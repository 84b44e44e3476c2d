#!/usr/bin/python3
"""Independent PyTorch reference for TransNetV2, used by the Go tests of
curate/transnet and by its benchmark.

Run it with a Python that has torch and numpy (Debian: /usr/bin/python3).
Only the standard library, numpy and torch are used.

Subcommands:
  weights    --seed N --out DIR
      Build the network with seeded random (but numerically "interesting")
      parameters and write DIR/model.pth (torch.save of the state_dict) and
      DIR/model.safetensors (written by the small writer below).
  scores     --weights model.pth --frames FILE.rgb --out FILE.json [--threshold 0.4]
      FILE.rgb holds raw rgb24 frames of 48x27, exactly what
      `ffmpeg -i VIDEO -f rawvideo -pix_fmt rgb24 -s 48x27 -` writes.
      Writes {"frames", "scores", "scenes", "threshold"}.
  bench      --weights model.pth --frames FILE.rgb [--threads 2] [--repeat 3]
      Prints {"frames", "seconds", "frames_per_s"} (median of the repeats).
  check-port --weights model.pth --frames FILE.rgb [--port FILE.py]
      Loads the same state_dict into the soCzech/TransNetV2 PyTorch port
      (inference-pytorch/transnetv2_pytorch.py, taken with `git show` from the
      mirror, or from --port) and into the classes below, and prints the max
      abs difference of their per-frame sigmoid scores.

The network classes below are written from the soCzech/TransNetV2 PyTorch
port (MIT licence) in its default configuration (F=16, L=3, S=2, D=1024,
frame similarity and colour histograms on, no mean pooling), keeping the
same module/parameter names so that state_dict() keys are identical.
Options that the default configuration does not use are left out.

_get_batches and _get_scenes are copied from NVIDIA NeMo Curator v1.0.0,
nemo_curator/stages/video/clipping/transnetv2_extraction.py,
Copyright (c) 2025, NVIDIA CORPORATION, licensed under the Apache License,
Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import importlib.util

import numpy as np
import torch
from torch import nn
from torch.nn import functional

HEIGHT, WIDTH = 27, 48
FRAME_BYTES = HEIGHT * WIDTH * 3  # 3888

# ---------------------------------------------------------------------------
# Network (default TransNetV2 configuration).
# ---------------------------------------------------------------------------


class Conv3DConfigurable(nn.Module):
    """(2+1)D separable convolution: 1x3x3 spatial then 3x1x1 dilated temporal."""

    def __init__(self, in_filters, filters, dilation_rate):
        super().__init__()
        conv1 = nn.Conv3d(in_filters, 2 * filters, kernel_size=(1, 3, 3),
                          dilation=(1, 1, 1), padding=(0, 1, 1), bias=False)
        conv2 = nn.Conv3d(2 * filters, filters, kernel_size=(3, 1, 1),
                          dilation=(dilation_rate, 1, 1),
                          padding=(dilation_rate, 0, 0), bias=False)
        self.layers = nn.ModuleList([conv1, conv2])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class DilatedDCNNV2(nn.Module):
    def __init__(self, in_filters, filters, activation):
        super().__init__()
        self.Conv3D_1 = Conv3DConfigurable(in_filters, filters, 1)
        self.Conv3D_2 = Conv3DConfigurable(in_filters, filters, 2)
        self.Conv3D_4 = Conv3DConfigurable(in_filters, filters, 4)
        self.Conv3D_8 = Conv3DConfigurable(in_filters, filters, 8)
        self.bn = nn.BatchNorm3d(filters * 4, eps=1e-3)
        self.activation = activation

    def forward(self, x):
        x = torch.cat([self.Conv3D_1(x), self.Conv3D_2(x),
                       self.Conv3D_4(x), self.Conv3D_8(x)], dim=1)
        x = self.bn(x)
        if self.activation:
            x = functional.relu(x)
        return x


class StackedDDCNNV2(nn.Module):
    def __init__(self, in_filters, n_blocks, filters):
        super().__init__()
        self.DDCNN = nn.ModuleList([
            DilatedDCNNV2(in_filters if i == 1 else filters * 4, filters,
                          activation=(i != n_blocks))
            for i in range(1, n_blocks + 1)
        ])
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x):
        shortcut = None
        for block in self.DDCNN:
            x = block(x)
            if shortcut is None:
                shortcut = x
        x = functional.relu(x)
        x = x + shortcut
        return self.pool(x)


def _lookup(similarities, lookup_window):
    """For each frame t, the similarities to frames t-50..t+50 (zero outside)."""
    half = (lookup_window - 1) // 2
    padded = functional.pad(similarities, [half, half])
    b, t = similarities.shape[0], similarities.shape[1]
    bi = torch.arange(b).view(b, 1, 1).expand(b, t, lookup_window)
    ti = torch.arange(t).view(1, t, 1).expand(b, t, lookup_window)
    li = torch.arange(lookup_window).view(1, 1, lookup_window).expand(b, t, lookup_window) + ti
    return padded[bi, ti, li]


class FrameSimilarity(nn.Module):
    def __init__(self, in_filters, similarity_dim=128, lookup_window=101, output_dim=128):
        super().__init__()
        self.projection = nn.Linear(in_filters, similarity_dim, bias=True)
        self.fc = nn.Linear(lookup_window, output_dim)
        self.lookup_window = lookup_window

    def forward(self, block_features):
        x = torch.cat([torch.mean(f, dim=[3, 4]) for f in block_features], dim=1)
        x = torch.transpose(x, 1, 2)  # [B, T, C]
        x = self.projection(x)
        x = functional.normalize(x, p=2, dim=2)
        sim = torch.bmm(x, x.transpose(1, 2))
        return functional.relu(self.fc(_lookup(sim, self.lookup_window)))


class ColorHistograms(nn.Module):
    def __init__(self, lookup_window=101, output_dim=128):
        super().__init__()
        self.fc = nn.Linear(lookup_window, output_dim)
        self.lookup_window = lookup_window

    @staticmethod
    def compute_color_histograms(frames):
        # frames: uint8 [B, T, H, W, 3] -> L2-normalised 512-bin histograms [B, T, 512]
        b, t = frames.shape[0], frames.shape[1]
        f = frames.to(torch.int64).reshape(b * t, -1, 3) >> 5
        bins = (f[:, :, 0] << 6) + (f[:, :, 1] << 3) + f[:, :, 2]
        bins = bins + (torch.arange(b * t).view(-1, 1) << 9)
        hist = torch.zeros(b * t * 512, dtype=torch.int64)
        hist.scatter_add_(0, bins.reshape(-1), torch.ones(bins.numel(), dtype=torch.int64))
        hist = hist.view(b, t, 512).float()
        return functional.normalize(hist, p=2, dim=2)

    def forward(self, frames):
        x = self.compute_color_histograms(frames)
        sim = torch.bmm(x, x.transpose(1, 2))
        return functional.relu(self.fc(_lookup(sim, self.lookup_window)))


class TransNetV2(nn.Module):
    def __init__(self, F=16, L=3, S=2, D=1024):
        super().__init__()
        self.SDDCNN = nn.ModuleList(
            [StackedDDCNNV2(3, S, F)] +
            [StackedDDCNNV2((F * 2 ** (i - 1)) * 4, S, F * 2 ** i) for i in range(1, L)])
        self.frame_sim_layer = FrameSimilarity(sum((F * 2 ** i) * 4 for i in range(L)))
        self.color_hist_layer = ColorHistograms()
        self.dropout = nn.Dropout(0.5)
        output_dim = ((F * 2 ** (L - 1)) * 4) * 3 * 6 + 128 + 128
        self.fc1 = nn.Linear(output_dim, D)
        self.cls_layer1 = nn.Linear(D, 1)
        self.cls_layer2 = nn.Linear(D, 1)  # many-hot head: kept for the keys, unused
        self.eval()

    def forward(self, inputs):
        """uint8 [B, T, 27, 48, 3] -> per-frame transition probability [B, T, 1]."""
        assert inputs.dtype == torch.uint8 and list(inputs.shape[2:]) == [HEIGHT, WIDTH, 3]
        x = inputs.permute(0, 4, 1, 2, 3).float() / 255.0
        feats = []
        for block in self.SDDCNN:
            x = block(x)
            feats.append(x)
        x = x.permute(0, 2, 3, 4, 1)  # [B, T, H, W, C]
        x = x.reshape(x.shape[0], x.shape[1], -1)
        x = torch.cat([self.color_hist_layer(inputs), self.frame_sim_layer(feats), x], 2)
        x = functional.relu(self.fc1(x))
        x = self.dropout(x)
        return torch.sigmoid(self.cls_layer1(x))


# ---------------------------------------------------------------------------
# Seeded weights.
# ---------------------------------------------------------------------------

# Scales tuned (see the weights subcommand's printout) so that activations stay
# O(1) through the three blocks and the sigmoid outputs are spread over (0,1).
CONV_GAIN = 1.0
FC1_GAIN = 1.0
FC1_SIDE_GAIN = 4.0      # extra gain on fc1 columns fed by colour-hist / frame-sim
CLS_GAIN = 4.0
CLS_MEDIAN = 0.3         # cls_layer1.bias puts the synthetic clip's median score here


def random_state(seed):
    """Builds a TransNetV2 with seeded random parameters and buffers."""
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=g) * std + mean

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    model = TransNetV2()
    sd = model.state_dict()
    out = {}
    for name, t in sd.items():
        shape = tuple(t.shape)
        if name.endswith("num_batches_tracked"):
            v = torch.randint(1000, 100000, (), generator=g, dtype=torch.int64)
        elif ".layers." in name:  # conv weights [out, in, kt, kh, kw]
            fan_in = shape[1] * shape[2] * shape[3] * shape[4]
            v = normal(shape, CONV_GAIN / math.sqrt(fan_in))
        elif name.endswith("bn.weight"):
            v = uniform(shape, 0.5, 1.5) * torch.where(uniform(shape, 0, 1) < 0.1, -1.0, 1.0)
        elif name.endswith("bn.bias"):
            v = normal(shape, 0.2)
        elif name.endswith("bn.running_mean"):
            v = normal(shape, 0.3)
        elif name.endswith("bn.running_var"):
            v = uniform(shape, 0.5, 2.0)
        elif name == "fc1.weight":
            v = normal(shape, FC1_GAIN / math.sqrt(shape[1]))
            v[:, :256] *= FC1_SIDE_GAIN
        elif name in ("cls_layer1.weight", "cls_layer2.weight"):
            v = normal(shape, CLS_GAIN / math.sqrt(shape[1]))
        elif name.endswith(".weight"):  # other Linear weights
            v = normal(shape, 1.0 / math.sqrt(shape[1]))
        elif name.endswith(".bias"):
            v = normal(shape, 0.1)
        else:
            raise KeyError(name)
        out[name] = v.to(t.dtype).contiguous()
    model.load_state_dict(out, strict=True)
    clip = _synthetic_clip(g)
    _centre_frame_similarity(model, clip, g)
    _calibrate_cls_bias(model, clip)
    return model


def _synthetic_clip(g, shots=4, length=25):
    """A seeded uint8 clip [shots*length, 27, 48, 3]: smooth random images that drift."""
    clips = []
    for _ in range(shots):
        base = torch.rand((1, 3, 3, 4), generator=g)
        drift = (torch.rand((1, 3, 1, 1), generator=g) - 0.5) * 0.01
        frames = []
        for t in range(length):
            img = functional.interpolate(base + drift * t, size=(HEIGHT, WIDTH),
                                         mode="bilinear", align_corners=False)
            frames.append(img[0].permute(1, 2, 0))
        clips.append(torch.stack(frames))
    return (torch.cat(clips).clamp(0, 1) * 255).round().to(torch.uint8)


def _centre_frame_similarity(model, clip, g):
    """Sets frame_sim_layer.projection.bias so that the projected block features
    of a synthetic clip have (nearly) zero mean. Without this, the non-negative
    block features share a large common direction, every cosine similarity is
    close to 1 and the frame-similarity branch hardly depends on its inputs."""
    with torch.no_grad():
        x = clip.unsqueeze(0).permute(0, 4, 1, 2, 3).float() / 255.0
        feats = []
        for block in model.SDDCNN:
            x = block(x)
            feats.append(torch.mean(x, dim=[3, 4]))
        f = torch.cat(feats, dim=1)[0].t()  # [T, 448]
        proj = model.frame_sim_layer.projection
        centred = f.mean(0) @ proj.weight.t()  # [128]
        spread = (f @ proj.weight.t()).std(0).mean()
        proj.bias.copy_(-centred + torch.randn(proj.bias.shape, generator=g) * 0.1 * spread)


def _calibrate_cls_bias(model, clip):
    """Shifts cls_layer1.bias so the median score on the synthetic clip is CLS_MEDIAN;
    otherwise a seed-dependent common offset tends to push all scores to one side."""
    with torch.no_grad():
        p = model(clip.unsqueeze(0)).reshape(-1).clamp(1e-6, 1 - 1e-6)
        logit = torch.log(p / (1 - p)).median()
        b = model.cls_layer1.bias
        b.copy_(b + (math.log(CLS_MEDIAN / (1 - CLS_MEDIAN)) - logit))


# ---------------------------------------------------------------------------
# safetensors writer.
# ---------------------------------------------------------------------------

_ST_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(tensors, path):
    names = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for n in names:
        t = tensors[n].detach().cpu().contiguous()
        arr = t.numpy()
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[n] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hj = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    hj += b" " * (-len(hj) % 8)  # pad so the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# NeMo Curator pipeline pieces (copied, see the licence note at the top).
# ---------------------------------------------------------------------------


def _get_batches(frames):
    """We fetch 100 frames, and pad the first and last batches accordingly with the first or last frame."""
    total_frames = len(frames)
    twentyfive: int = 25
    reminder = -total_frames % 50
    for i in range(0, total_frames + reminder, 50):
        start_idx = max(i - twentyfive, 0)
        end_idx = min(i + 75, total_frames)
        batch = frames[start_idx:end_idx]
        # Add padding at the beginning if necessary
        if i < twentyfive:
            padding_start = [frames[0]] * (twentyfive - i)
            batch = np.concatenate([padding_start, batch], axis=0)
        # Add padding at the end if necessary
        # (NeMo's condition; it compares the clamped end_idx, so it never holds
        # and the last window may be shorter than 100 frames.)
        if end_idx > total_frames:
            padding_end = [frames[-1]] * (end_idx - total_frames)
            batch = np.concatenate([batch, padding_end], axis=0)
        yield batch


def _get_scenes(predictions, *, entire_scene_as_clip):
    scenes = []
    t, t_prev, start = -1, 0, 0
    for i, t in enumerate(predictions):
        if t_prev == 1 and t == 0:
            start = i
        if t_prev == 0 and t == 1 and i != 0:
            scenes.append((start, i))
        t_prev = t
    # If we detected at least one transition, add the trailing scene
    if scenes and t == 0:
        scenes.append((start, i))
    # If no transitions found, and entire_scene_as_clip=True, return the full video as one scene
    if not scenes and entire_scene_as_clip:
        # Use full length to match metadata.duration
        scenes.append((0, len(predictions)))
    # Return as 2D array even if empty
    return np.array(scenes, dtype=np.int32).reshape(-1, 2)


def predict(model, frames):
    """NeMo's _get_predictions without the threshold: per-frame probabilities [N]."""
    preds = []
    with torch.no_grad():
        for batch in _get_batches(frames):
            one_hot = model(torch.from_numpy(batch.copy()).unsqueeze(0))
            preds.append(one_hot[0, 25:75])
    return torch.cat(preds, 0)[: len(frames)].reshape(-1).float()


# ---------------------------------------------------------------------------
# CLI.
# ---------------------------------------------------------------------------


def load_frames(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % FRAME_BYTES:
        sys.exit(f"{path}: {raw.size} bytes is not a positive multiple of {FRAME_BYTES}")
    return raw.reshape(-1, HEIGHT, WIDTH, 3)


def load_model(path, cls=TransNetV2):
    model = cls()
    model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    model.float().eval()
    return model


def cmd_weights(a):
    t0 = time.time()
    model = random_state(a.seed)
    os.makedirs(a.out, exist_ok=True)
    sd = model.state_dict()
    torch.save(sd, os.path.join(a.out, "model.pth"))
    write_safetensors(sd, os.path.join(a.out, "model.safetensors"))
    print(json.dumps({"seed": a.seed, "out": a.out, "tensors": len(sd),
                      "seconds": round(time.time() - t0, 3)}))
    if a.list:
        for k, v in sd.items():
            print(f"{k} {list(v.shape)} {str(v.dtype).replace('torch.', '')}")


def cmd_scores(a):
    model = load_model(a.weights)
    frames = load_frames(a.frames)
    scores = predict(model, frames)
    scenes = _get_scenes((scores > a.threshold).to(torch.uint8).numpy().reshape(-1, 1),
                         entire_scene_as_clip=True)
    s = scores.tolist()
    out = {"frames": len(frames), "scores": s,
           "scenes": [[int(x), int(y)] for x, y in scenes.tolist()],
           "threshold": a.threshold}
    with open(a.out, "w") as f:
        json.dump(out, f)
    margin = min(abs(v - a.threshold) for v in s)
    print(json.dumps({"frames": len(s), "min": min(s), "median": statistics.median(s),
                      "max": max(s), "above_threshold": sum(v > a.threshold for v in s),
                      "scenes": len(out["scenes"]), "closest_to_threshold": margin}),
          file=sys.stderr)


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    model = load_model(a.weights)
    frames = load_frames(a.frames)
    predict(model, frames[:100])  # warm-up
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        predict(model, frames)
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    print(json.dumps({"frames": len(frames), "seconds": sec, "frames_per_s": len(frames) / sec,
                      "threads": a.threads, "repeat": a.repeat}))


PORT_MIRROR = "/work/.mirror/soCzech+TransNetV2/repo"
PORT_PATH = "inference-pytorch/transnetv2_pytorch.py"


def cmd_check_port(a):
    with tempfile.TemporaryDirectory() as d:
        dst = os.path.join(d, "transnetv2_pytorch.py")
        if a.port:
            with open(a.port, "rb") as f:
                src = f.read()
        else:
            src = subprocess.run(["git", "-C", a.mirror, "show", "HEAD:" + PORT_PATH],
                                 check=True, capture_output=True).stdout
        with open(dst, "wb") as f:
            f.write(src)
        spec = importlib.util.spec_from_file_location("transnetv2_pytorch", dst)
        port = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(port)

    class PortSigmoid(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = port.TransNetV2()

        def forward(self, x):
            one_hot, _ = self.net(x)
            return torch.sigmoid(one_hot)

    sd = torch.load(a.weights, map_location="cpu")
    theirs = port.TransNetV2()
    theirs.load_state_dict(sd, strict=True)
    theirs.eval()
    wrapped = PortSigmoid()
    wrapped.net = theirs
    assert list(theirs.state_dict().keys()) == list(TransNetV2().state_dict().keys())
    ours = load_model(a.weights)
    frames = load_frames(a.frames)
    s_ours = predict(ours, frames)
    s_port = predict(wrapped, frames)
    diff = (s_ours - s_port).abs().max().item()
    print(json.dumps({"frames": len(frames), "max_abs_diff": diff,
                      "keys_identical": True}))
    if diff > a.tol:
        sys.exit(f"max abs diff {diff} > {a.tol}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("weights")
    w.add_argument("--seed", type=int, default=1)
    w.add_argument("--out", required=True)
    w.add_argument("--list", action="store_true", help="print keys, shapes and dtypes")
    w.set_defaults(fn=cmd_weights)

    s = sub.add_parser("scores")
    s.add_argument("--weights", required=True)
    s.add_argument("--frames", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--threshold", type=float, default=0.4)
    s.set_defaults(fn=cmd_scores)

    b = sub.add_parser("bench")
    b.add_argument("--weights", required=True)
    b.add_argument("--frames", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--repeat", type=int, default=3)
    b.set_defaults(fn=cmd_bench)

    c = sub.add_parser("check-port")
    c.add_argument("--weights", required=True)
    c.add_argument("--frames", required=True)
    c.add_argument("--port", help="path of transnetv2_pytorch.py (default: git show from --mirror)")
    c.add_argument("--mirror", default=PORT_MIRROR)
    c.add_argument("--tol", type=float, default=1e-5)
    c.set_defaults(fn=cmd_check_port)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
