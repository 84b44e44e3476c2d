#!/usr/bin/python3
"""Reference outputs for curate/vit/preprocess.go, from PIL and numpy.

HuggingFace's CLIPImageProcessor is written out here in numpy (transformers
itself is not needed): PIL resize (BICUBIC), center_crop as
transformers.image_transforms.center_crop (zero padding included), rescale
(float64 x * 1/255, stored as float32), normalize ((x - mean) / std in
float32), channel-major output.

Usage:
  preprocess.py golden DIR   writes the committed preprocess_* files into DIR
  preprocess.py batch JOBS   runs each line of the file JOBS, one of
      resize IN W H OW OH OUT        PIL resize of raw RGB24 IN (W×H) to OW×OH
      clip IN W H RW RH CROP OUT     HF pipeline with a resize to RW×RH and a
                                     CROP×CROP centre crop, float32 LE to OUT
"""

import math
import os
import sys

import numpy as np
from PIL import Image

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def load(path, w, h):
    data = np.fromfile(path, dtype=np.uint8)
    return data[: w * h * 3].reshape(h, w, 3)


def resize(rgb, ow, oh):
    """PIL's Image.resize with BICUBIC, as transformers' resize calls it."""
    img = Image.fromarray(rgb, "RGB")
    return np.array(img.resize((ow, oh), resample=Image.BICUBIC))


def center_crop(chw, crop):
    """transformers.image_transforms.center_crop on a channel-first array."""
    orig_height, orig_width = chw.shape[-2:]
    top = (orig_height - crop) // 2
    bottom = top + crop
    left = (orig_width - crop) // 2
    right = left + crop
    if top >= 0 and bottom <= orig_height and left >= 0 and right <= orig_width:
        return chw[..., top:bottom, left:right]
    new_height = max(crop, orig_height)
    new_width = max(crop, orig_width)
    new_image = np.zeros_like(chw, shape=chw.shape[:-2] + (new_height, new_width))
    top_pad = math.ceil((new_height - orig_height) / 2)
    left_pad = math.ceil((new_width - orig_width) / 2)
    new_image[..., top_pad : top_pad + orig_height, left_pad : left_pad + orig_width] = chw
    top += top_pad
    bottom += top_pad
    left += left_pad
    right += left_pad
    return new_image[..., max(0, top) : min(new_height, bottom), max(0, left) : min(new_width, right)]


def clip(rgb, rw, rh, crop):
    """CLIPImageProcessor with size rw×rh after the resize and a crop."""
    hwc = resize(rgb, rw, rh)
    hwc = center_crop(hwc.transpose(2, 0, 1), crop).transpose(1, 2, 0)
    x = (hwc.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype("<f4")


def batch(jobs):
    with open(jobs) as f:
        for line in f:
            a = line.split()
            if not a:
                continue
            if a[0] == "resize":
                rgb = load(a[1], int(a[2]), int(a[3]))
                resize(rgb, int(a[4]), int(a[5])).tofile(a[6])
            elif a[0] == "clip":
                rgb = load(a[1], int(a[2]), int(a[3]))
                clip(rgb, int(a[4]), int(a[5]), int(a[6])).tofile(a[7])
            else:
                sys.exit("preprocess.py: unknown job " + a[0])


def golden(out):
    """A 96×72 pattern with gradients, hard edges (ringing that clamps) and noise."""
    w, h = 96, 72
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    rgb[..., 0] = (x * 255 // (w - 1)).astype(np.uint8)
    rgb[..., 1] = (y * 255 // (h - 1)).astype(np.uint8)
    rgb[..., 2] = np.where(((x // 6) + (y // 6)) % 2 == 0, 255, 0).astype(np.uint8)
    noise = np.random.RandomState(1).randint(0, 256, size=(h // 2, w // 2, 3), dtype=np.uint8)
    rgb[h // 2 :, w // 2 :] = noise
    rgb.tofile(os.path.join(out, "preprocess_input_96x72.rgb"))
    resize(rgb, 37, 101).tofile(os.path.join(out, "preprocess_resize_37x101.rgb"))
    clip(rgb, 85, 64, 64).tofile(os.path.join(out, "preprocess_clip_64.f32"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "batch":
        batch(sys.argv[2])
    else:
        sys.exit(__doc__)
