#!/usr/bin/env python3
"""Golden OpenCV resizes for package motion's resizeLinear.

Usage: opencv_resize.py > opencv_resize.bin

Writes little-endian records: int32 case count, then per case int32 w, h,
float64 fx, fy, the w*h float32 source, int32 dw, dh and the dw*dh float32
result of cv2.resize(src, None, fx=fx, fy=fy) (INTER_LINEAR). Needs
python3-opencv and python3-numpy.
"""

import struct
import sys

import cv2
import numpy as np

CASES = [
    (37, 23, 0.75, 0.6),
    (40, 30, 1 / 3, 1 / 3),
    (17, 9, 1.7, 2.3),
    (5, 4, 3, 3),
    (64, 48, 0.3, 0.45),
    (100, 1, 0.37, 1),
    (1, 50, 1, 0.81),
    (33, 33, 0.999, 1.001),
    (200, 9, 1 / 64, 1 / 4),
]


def main():
    rng = np.random.default_rng(1)
    out = sys.stdout.buffer
    out.write(struct.pack("<i", len(CASES)))
    for w, h, fx, fy in CASES:
        img = (rng.random((h, w), dtype=np.float32) * rng.choice([1e-3, 1, 1e4])).astype(np.float32)
        res = cv2.resize(img, None, fx=fx, fy=fy)
        out.write(struct.pack("<iidd", w, h, fx, fy))
        out.write(img.tobytes())
        out.write(struct.pack("<ii", res.shape[1], res.shape[0]))
        out.write(res.astype(np.float32).tobytes())


if __name__ == "__main__":
    main()
