#!/usr/bin/python3
"""Writes the cv2.resize fixtures of resize_test.go: for each case a random
(partly blurred) BGR image W x H (CASE.src, raw bytes) and what OpenCV's
cv2.resize(img, (DW, DH), interpolation=cv2.INTER_LINEAR) makes of it
(CASE.dst), plus cases.json. Run with Debian's /usr/bin/python3 and
python3-opencv: /usr/bin/python3 make.py"""
import json
import cv2
import numpy as np

CASES = [
    (200, 120, 85, 51),   # 2.35x down, rows of 255 bytes
    (150, 300, 64, 128),  # portrait
    (64, 64, 32, 32),     # an exact halving: OpenCV's INTER_AREA
    (41, 23, 17, 10),
    (257, 100, 256, 100), # barely narrower
    (120, 90, 120, 45),   # one axis only
    (90, 60, 136, 90),    # upscaled (edges clamp)
]
rng = np.random.default_rng(16)
cases = []
for i, (w, h, dw, dh) in enumerate(CASES):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[: h // 2, : w // 2] = cv2.GaussianBlur(img[: h // 2, : w // 2], (9, 9), 3)
    out = cv2.resize(img, (dw, dh), interpolation=cv2.INTER_LINEAR)
    img.tofile(f"{i}.src")
    out.tofile(f"{i}.dst")
    cases.append({"width": w, "height": h, "dst_width": dw, "dst_height": dh})
json.dump({"opencv": cv2.__version__, "cases": cases}, open("cases.json", "w"), indent=1)
