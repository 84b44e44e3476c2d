#!/usr/bin/python3
"""Golden files for pack's JSON encoder and FormatFloat.

Run from anywhere with the system Python (json and float repr are the
reference; no third-party packages are needed):

    /usr/bin/python3 pack/testdata/gen_json.py

Writes pack/testdata/json/<case>.json (json.dumps(value, indent=4), no
trailing newline) and pack/testdata/float_repr.txt (one float per line:
16 hex digits of its IEEE-754 bits, a space, repr(value)). The Go table in
json_test.go names the same cases; keep the two in step.
"""
import json
import math
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

FLOATS = [
    0.1, 1e-06, 1e-05, 0.0001, 1.5e16, 1e16, 123456789012345.0,
    1234567890123456.0, 1e22, -0.0, 0.0, 5e-324, 1.7976931348623157e308,
    2.5, 100.0, 10.0, 0.5, -1.25, 1/3, 2.0**53, 2.0**-1074 * 3, 9.999999999999999e15,
]

CASES = {
    "null": None,
    "true": True,
    "false": False,
    "int_zero": 0,
    "int_neg": -42,
    "int_big": 9223372036854775807,
    "int_min": -9223372036854775808,
    "uint_max": 18446744073709551615,
    "floats": FLOATS,
    "float_special": [float("nan"), float("inf"), float("-inf")],
    "float32_tenth": 0.10000000149011612,
    "empty_list": [],
    "empty_object": {},
    "string_plain": "hello world",
    "string_escapes": "quote \" backslash \\ slash / nl \n cr \r tab \t bs \b ff \f",
    "string_controls": "".join(chr(c) for c in range(0x20)) + "\x7f",
    "string_unicode": "caf\u00e9 \u4e2d\u6587 \U0001F600 \u2028 \ufeff \uffff",
    "string_empty": "",
    "list_mixed": [1, 2.0, "three", None, True, False, [], {}],
    "nested": {
        "span_uuid": "0a1b2c3d-0000-5000-8000-000000000001",
        "duration_span": [0.0, 10.0],
        "width_source": 1920,
        "framerate_source": 29.97002997002997,
        "motion_score": {"global_mean": 0.0123, "per_patch_min_256": 1e-07},
        "errors": [],
        "windows": [
            {"start_frame": 0, "end_frame": 255, "qwen_caption": "A cat \u00e9."},
            {"start_frame": 256, "end_frame": 299},
        ],
        "empty": {},
        "deep": [[[1, [2, []]], {"a": {"b": {}}}]],
        "valid": True,
    },
    "object_key_escapes": {"k\"ey": 1, "\u00e9": "\U0001F600", "": None},
    "list_of_strings": ["a", "b", ""],
    "list_of_ints": [1, -2, 3],
}


def write_json():
    out = os.path.join(HERE, "json")
    os.makedirs(out, exist_ok=True)
    for name, value in CASES.items():
        with open(os.path.join(out, name + ".json"), "w", encoding="ascii", newline="") as f:
            f.write(json.dumps(value, indent=4))


def float_samples():
    rng = random.Random(20240601)
    values = list(FLOATS)
    # Boundaries where repr switches between fixed and exponent notation.
    for e in (-5, -4, -3, 15, 16, 17):
        for d in (1.0, 9.999999999999998, 9.999999999999999, 5.0):
            values.append(d * 10.0**e)
            values.append(math.nextafter(10.0**e, 0.0))
            values.append(math.nextafter(10.0**e, math.inf))
    while len(values) < 1000:  # arbitrary bit patterns: subnormals, huge, NaN payloads
        values.append(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0])
    while len(values) < 1600:  # "ordinary" magnitudes
        values.append(rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 20))
    while len(values) < 2000:  # short decimals, as timings and scores look
        values.append(round(rng.uniform(0, 1000), rng.randint(0, 6)))
    return values


def write_floats():
    with open(os.path.join(HERE, "float_repr.txt"), "w", encoding="ascii") as f:
        for v in float_samples():
            bits = struct.unpack("<Q", struct.pack("<d", v))[0]
            text = json.dumps(v)  # repr, with NaN/Infinity spelled as json writes them
            f.write("%016x %s\n" % (bits, text))


if __name__ == "__main__":
    write_json()
    write_floats()
