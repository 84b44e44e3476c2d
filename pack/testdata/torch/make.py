#!/usr/bin/python3
"""PyTorch state_dict fixtures for pack's ReadTorchStateDict.

Needs torch (Debian: /usr/bin/python3 with torch 1.13 and numpy):

    /usr/bin/python3 pack/testdata/torch/make.py [OUTDIR]

Writes into OUTDIR (default: this folder; the Go test passes a temporary
folder to check a freshly written set):
  module.pt    state_dict of Conv3d + BatchNorm3d + Linear after one training
               step of the batch norm (float32, num_batches_tracked an int64
               0-d tensor)
  dtypes.pt    one small tensor of each dtype with a legacy storage class
  views.pt     views saved as they are: a transpose, a stepped slice, two
               tensors sharing one storage at different offsets, a broadcast
               (stride 0), a 0-d and an empty tensor
  proto4.pt    a state_dict saved with pickle_protocol=4
  params.pt    state_dict(keep_vars=True): nn.Parameters (_rebuild_parameter)
               and a tensor subclass with an attribute (_rebuild_from_type_v2)
  legacy.pt    the pre-1.6 (non-zip) format, which the reader must refuse
  expected.json  for each .pt but legacy.pt, its entries in file order:
               name, safetensors dtype, shape and the values in C order
torch.save stores the whole storage of a view and its strides, so the views
exercise the reader's gather. Everything is seeded: reruns give the same
bytes.
"""
import json
import os
import sys

import torch

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(2, 3, kernel_size=2)
        self.bn = torch.nn.BatchNorm3d(3)
        self.fc = torch.nn.Linear(4, 2)


def module_state():
    torch.manual_seed(1)
    net = Net()
    net.train()
    net.bn(torch.randn(2, 3, 2, 2, 2))  # moves running_mean/var, counts a batch
    return net.state_dict()


def dtypes_state():
    ramp = torch.tensor([[-2.5, -1.0, 0.0], [0.25, 1.5, 65504.0]])
    return {
        "f16": ramp.to(torch.float16),
        "bf16": torch.tensor([[-2.5, -1.0, 0.0], [0.25, 1.5, 3.0e38]]).to(torch.bfloat16),
        "f64": torch.tensor([0.1, -1e300, 2.0], dtype=torch.float64),
        "i64": torch.tensor([-(2 ** 40), 0, 7], dtype=torch.int64),
        "i32": torch.tensor([-(2 ** 31), 1, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 2, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 3, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 4, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }


def views_state():
    y = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    x = torch.arange(10, dtype=torch.float32) * 0.5
    return {
        "t": y.t(),                  # (4, 3), stride (1, 4)
        "s": y[:, 1::2],             # (3, 2), stride (4, 2), offset 1
        "a": x,                      # x and b share one storage
        "b": x[2:],                  # offset 2
        "bcast": torch.tensor([1.0, -2.0]).expand(3, 2),  # stride (0, 1)
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
    }


class Tagged(torch.Tensor):
    """A tensor subclass: pickled as _rebuild_from_type_v2(..., Tagged, ...)."""


def params_state():
    torch.manual_seed(2)
    state = torch.nn.Linear(3, 2).state_dict(keep_vars=True)
    tagged = torch.tensor([1.0, 2.0]).as_subclass(Tagged)
    tagged.tag = "kept by pickle, ignored by the reader"
    state["tagged"] = tagged
    return state


def entries(state):
    out = []
    for name, t in state.items():
        values = t.detach().flatten().tolist()
        if t.dtype == torch.bool:
            values = [int(v) for v in values]
        out.append({"name": name, "dtype": DTYPES[t.dtype],
                    "shape": list(t.shape), "values": values})
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    expected = {}
    for name, state, kw in [
        ("module.pt", module_state(), {}),
        ("dtypes.pt", dtypes_state(), {}),
        ("views.pt", views_state(), {}),
        ("proto4.pt", {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
                       "n": torch.tensor(5)}, {"pickle_protocol": 4}),
        ("params.pt", params_state(), {}),
    ]:
        torch.save(state, os.path.join(out, name), **kw)
        expected[name] = entries(state)
    torch.save({"w": torch.arange(4, dtype=torch.float32)}, os.path.join(out, "legacy.pt"),
               _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
