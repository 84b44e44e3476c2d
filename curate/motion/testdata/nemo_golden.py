#!/usr/bin/env python3
"""Golden motion scores for package motion, computed with NeMo Curator's libraries.

Usage: nemo_golden.py CLIP.mp4 ... > golden.json

Samples each clip with PyAV exactly as NeMo Curator's decode_for_motion
(motion_vector_backend.py) and scores it as its check_if_small_motion, with the
same torch operations (index_put_ without accumulation, vector_norm, float32
sums in batches of 256) and OpenCV's resize by 1/256. Needs python3-av,
python3-torch, python3-opencv and python3-numpy (Debian packages suffice).
"""

import json
import os
import sys

import av
import cv2
import numpy as np
import torch
from numpy.lib.recfunctions import structured_to_unstructured

BLOCKS = [(8, 8), (16, 16), (16, 8), (8, 16)]  # (w, h), in NeMo's order


def sample(path, target_fps=2.0, ratio=0.5):
    """Motion vectors of the sampled frames, the frame size, frames decoded."""
    with av.open(path) as c:
        stream = c.streams.video[0]
        ctx = stream.codec_context
        ctx.export_mvs = True
        # NeMo asks for 4 threads of type AUTO; with frame threading,
        # libavcodec's exported vectors of B-frames vary from run to run
        # (FFmpeg 5.1), so the goldens use one thread, as package motion does.
        ctx.thread_count = 1
        fps = float(stream.average_rate) if stream.average_rate else float(stream.base_rate or 30)
        seconds = 0
        if stream.duration is not None and stream.time_base is not None:
            seconds = stream.duration * int(stream.time_base)
        if seconds <= 0 and c.duration is not None:
            seconds = int(c.duration / int(av.time_base))
        if seconds <= 0:
            seconds = 30
        max_frames = max(10, round(target_fps * (seconds * ratio)))
        step = max(1, round(fps / target_fps))
        frames, size, decoded = [], (1, 1), 0
        for i, frame in enumerate(c.decode(video=0)):
            decoded = i + 1
            if i % step:
                continue
            if i == 0:
                size = (frame.height, frame.width)
            for sd in frame.side_data:
                if sd.type == av.sidedata.sidedata.Type.MOTION_VECTORS:
                    frames.append(structured_to_unstructured(sd.to_ndarray()))
                    break
            if len(frames) >= max_frames:
                break
    return frames, size, decoded, fps


def flow_field(mvs, h, w):
    """Dense flow of a (B, N, 10) float32 batch, written block by block."""
    b = mvs.shape[0]
    flow = torch.zeros(b, h, w, 2)
    bi, yi, xi, vals = [], [], [], []
    batch = torch.arange(b).view(-1, 1).expand(-1, mvs.shape[1])
    delta = -mvs[..., 7:9] / mvs[..., 9:10]
    for bw, bh in BLOCKS:
        sel = (mvs[..., 0] == bw) & (mvs[..., 1] == bh)
        ox = torch.arange(-bw // 2, bw // 2).view(1, -1, 1).expand(1, bw, bh)
        oy = torch.arange(-bh // 2, bh // 2).view(1, 1, -1).expand(1, bw, bh)
        x = (mvs[..., 4][sel].long().view(-1, 1, 1) + ox).clamp(0, w - 1)
        y = (mvs[..., 5][sel].long().view(-1, 1, 1) + oy).clamp(0, h - 1)
        n = x.shape[0]
        bi.append(batch[sel].view(-1, 1, 1).expand(n, bw, bh).reshape(-1))
        xi.append(x.reshape(-1))
        yi.append(y.reshape(-1))
        vals.append(delta[sel].view(-1, 1, 1, 2).expand(n, bw, bh, 2).reshape(-1, 2))
    flow.index_put_((torch.cat(bi), torch.cat(yi), torch.cat(xi)), torch.cat(vals), accumulate=False)
    return flow


def score(frames, h, w, batch=256):
    global_sum = torch.tensor(0.0)
    pixel_sum = torch.zeros(h, w)
    count = 0
    for off in range(0, len(frames), batch):
        part = frames[off : off + batch]
        mvs = torch.zeros(len(part), max(f.shape[0] for f in part), 10)
        for k, f in enumerate(part):
            mvs[k, : f.shape[0]] = torch.tensor(f[:, 1:], dtype=torch.float32)
        mag = torch.linalg.vector_norm(flow_field(mvs, h, w), dim=3) / (w + h)
        global_sum += mag.sum()
        pixel_sum += mag.sum(dim=0)
        count += len(part)
    global_mean = (global_sum / (count * h * w)).item()
    avg = (pixel_sum / count).numpy()
    patches = cv2.resize(avg, None, fx=1 / 256, fy=1 / 256)
    return global_mean, float(patches.min()), patches.shape


def main():
    torch.set_num_threads(1)  # deterministic reductions
    out = {}
    for path in sys.argv[1:]:
        frames, (h, w), decoded, fps = sample(path)
        gm, ppm, shape = score(frames, h, w)
        out[os.path.basename(path)] = {
            "width": w,
            "height": h,
            "frame_rate": fps,
            "decoded": decoded,
            "vectors_per_frame": [int(f.shape[0]) for f in frames],
            "vector_sums": [[int(v) for v in f[:, [0, 1, 2, 5, 6, 8, 9, 10]].astype(np.int64).sum(axis=0)] for f in frames],
            "patches": list(shape),
            "global_mean": gm,
            "per_patch_min_256": ppm,
        }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
