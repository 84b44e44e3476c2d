"""Reads a clipfs tree (mount or export) with Python's own json, pickle and
numpy, and prints what it found as JSON for the Go end-to-end tests.

usage: /usr/bin/python3 check_tree.py ROOT [uuid5-names-file]
"""
import json
import os
import pickle
import sys
import uuid

root = sys.argv[1]
report = {"json": {}, "pickle": {}, "uuid5": {}}

for dirpath, dirnames, filenames in os.walk(root):
    for name in filenames:
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        if name.endswith(".json"):
            with open(path, "rb") as f:
                raw = f.read()
            obj = json.loads(raw)
            keys = list(obj.keys()) if isinstance(obj, dict) else []
            report["json"][rel] = {
                # byte-for-byte what Python's json.dumps(indent=4) writes
                "exact": json.dumps(obj, indent=4).encode() == raw,
                "keys": keys,
                "size": len(raw),
                "stat_size": os.stat(path).st_size,
            }
        elif name.endswith(".pickle"):
            with open(path, "rb") as f:
                arr = pickle.load(f)
            report["pickle"][rel] = {
                "type": type(arr).__module__ + "." + type(arr).__name__,
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "values": [float(x) for x in arr.ravel()],
            }

if len(sys.argv) > 2:
    with open(sys.argv[2]) as f:
        for line in f.read().splitlines():
            report["uuid5"][line] = str(uuid.uuid5(uuid.NAMESPACE_URL, line))

json.dump(report, sys.stdout)
