#!/usr/bin/python3
"""Golden pickles and .npy files for pack's array encoders.

Needs numpy (Debian: /usr/bin/python3 with python3-numpy, numpy 1.24):

    /usr/bin/python3 pack/testdata/gen_numpy.py

Writes into pack/testdata:
  pickle/<name>.p<N>.pickle   pickle.dumps(array, protocol=N) (large arrays: N=4 only)
  pickle/<name>.np2.pickle    the protocol 4 pickle as numpy 2.x writes it
                              (numpy._core instead of numpy.core)
  npy/<name>.npy              numpy.save(array) (not for the large arrays)
The arrays are deterministic. The embedding-shaped ones hold
float32(sin(0.37*i)) / L2 norm (the Go tests read these values back from the
.npy files); the others a ramp, value i = (i % 2048) * 0.25, exact in both
float32 and float16, which the Go tests rebuild.
"""
import io
import os
import pickle
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def embedding(n, dtype):
    v = np.sin(0.37 * np.arange(n, dtype=np.float64)).astype(np.float32)
    v = v / np.float32(np.linalg.norm(v))
    return v.astype(dtype).reshape(1, n)


def ramp(shape, dtype):
    n = int(np.prod(shape))
    return ((np.arange(n, dtype=np.float64) % 2048) * 0.25).astype(dtype).reshape(shape)


ARRAYS = {
    "f32_1x512": embedding(512, np.float32),    # internvideo2
    "f16_1x256": embedding(256, np.float16),    # cosmos-embed1 224p
    "f32_2x3": ramp((2, 3), np.float32),
    "f16_2x3": ramp((2, 3), np.float16),
    "f32_scalar": ramp((), np.float32),
    "f16_empty": ramp((0,), np.float16),
    "f32_2x3x4x5": ramp((2, 3, 4, 5), np.float32),
    "f32_1x16383": ramp((1, 16383), np.float32),  # data just below 64 KiB: one frame
    "f32_1x16384": ramp((1, 16384), np.float32),  # data of 64 KiB: outside the frame
    "f16_70000": ramp((70000,), np.float16),      # BININT shape item, large data
}

# Large arrays test CPython's framing only: protocol 4 pickle, nothing else.
LARGE = {"f32_1x16383", "f32_1x16384", "f16_70000"}


def numpy2_pickle(b):
    """Rewrite a numpy 1.x protocol 4 pickle as numpy 2.x writes it."""
    old = b"\x8c\x15numpy.core.multiarray"
    new = b"\x8c\x16numpy._core.multiarray"
    assert b[2:3] == b"\x95" and old in b
    (frame,) = struct.unpack("<Q", b[3:11])
    return b[:3] + struct.pack("<Q", frame + 1) + b[11:].replace(old, new, 1)


def write(path, data):
    with open(os.path.join(HERE, path), "wb") as f:
        f.write(data)


def main():
    for name, arr in ARRAYS.items():
        if name in LARGE:
            write("pickle/%s.p4.pickle" % name, pickle.dumps(arr, protocol=4))
            continue
        for p in (2, 3, 4, 5):
            write("pickle/%s.p%d.pickle" % (name, p), pickle.dumps(arr, protocol=p))
        write("pickle/%s.np2.pickle" % name, numpy2_pickle(pickle.dumps(arr, protocol=4)))
        buf = io.BytesIO()
        np.save(buf, arr)
        write("npy/%s.npy" % name, buf.getvalue())
    # Fortran-ordered arrays: the pickle carries column-major data.
    fortran = np.asfortranarray(ramp((2, 3), np.float32))
    for p in (2, 4, 5):
        write("pickle/f32_2x3_fortran.p%d.pickle" % p, pickle.dumps(fortran, protocol=p))
    # Big-endian data.
    write("pickle/f32_2x3_bigendian.p4.pickle", pickle.dumps(ramp((2, 3), ">f4"), protocol=4))
    # Not float32/float16, and not an array: must be refused.
    write("pickle/reject_f64.p4.pickle", pickle.dumps(ramp((2, 3), np.float64), protocol=4))
    write("pickle/reject_list.p4.pickle", pickle.dumps([1.0, 2.0], protocol=4))


if __name__ == "__main__":
    main()
