#!/usr/bin/python3
"""Reference outputs for the Go CLIP vision runtime (curate/vit) and the LAION
aesthetic MLP (curate/aesthetic).

Run from anywhere: /usr/bin/python3 curate/vit/testdata/reference.py
It needs numpy and torch (CPU) and rewrites, byte for byte the same each run:

  curate/vit/testdata/tiny_clip/model.safetensors   tiny CLIP vision model, F32,
        with the names of a full CLIPModel checkpoint (plus an I64 position_ids,
        a text_model tensor and logit_scale that the loader must skip)
  curate/vit/testdata/tiny_clip/config.json         a CLIPConfig (vision_config
        nested, projection_dim at the top, defaults left out as HF does)
  curate/vit/testdata/tiny_clip_f16/model.safetensors  the same weights in F16,
        as CLIPVisionModelWithProjection names them
  curate/vit/testdata/tiny_clip_f16/config.json     a CLIPVisionConfig (top level)
  curate/vit/testdata/tiny_clip_images.f32          3 images, 3x32x32 float32 LE
  curate/vit/testdata/tiny_clip_expected.json       image embeddings: float64 and
        float32 forward passes, and float32 with the F16 weights
  curate/aesthetic/testdata/small_mlp.safetensors   a narrow aesthetic MLP
        (32-24-16-8-4-1) named mlp.layers.{0,2,4,6,7}.*
  curate/aesthetic/testdata/expected.json           its scores, and the score of
        a full-size (768-1024-128-64-16-1) MLP whose weights come from an
        integer hash (see hashed(); the Go test rebuilds them bit for bit, so
        3 MB of weights need not be committed)

The forward pass below is written from HuggingFace's modeling_clip.py
(CLIPVisionModelWithProjection) with torch.nn.functional only. On a machine
where `import transformers` works, the script also loads the same weights into
transformers.CLIPVisionModelWithProjection(CLIPVisionConfig(...)) with
load_state_dict and asserts that its image_embeds agree with this
implementation to 1e-5; without transformers that check is skipped (and says
so).
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
AESTHETIC = os.path.join(HERE, "..", "..", "aesthetic", "testdata")

CFG = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
           patch_size=8, image_size=32, projection_dim=48, layer_norm_eps=1e-5)
SEED = 20240501
IMAGES = 3


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array) in file order."""
    dtypes = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("int64"): "I64",
              np.dtype("float64"): "F64"}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def tiny_clip_weights():
    """Weights scaled so that activations are of order 1 and attention is far
    from uniform (a test that cannot tell heads or tokens apart is no test)."""
    rng = np.random.default_rng(SEED)
    H, I, P = CFG["hidden_size"], CFG["intermediate_size"], CFG["patch_size"]
    T = (CFG["image_size"] // P) ** 2 + 1

    def mat(o, i):
        return (rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32)

    def vec(n, mean=0.0, std=0.1):
        return (mean + std * rng.standard_normal(n)).astype(np.float32)

    w = [("vision_model.embeddings.class_embedding", vec(H, std=0.5)),
         ("vision_model.embeddings.patch_embedding.weight",
          (rng.standard_normal((H, 3, P, P)) / math.sqrt(3 * P * P)).astype(np.float32)),
         ("vision_model.embeddings.position_embedding.weight", (0.5 * rng.standard_normal((T, H))).astype(np.float32)),
         ("vision_model.pre_layrnorm.weight", vec(H, 1.0)),
         ("vision_model.pre_layrnorm.bias", vec(H))]
    for i in range(CFG["num_hidden_layers"]):
        n = "vision_model.encoder.layers.%d." % i
        w += [(n + "layer_norm1.weight", vec(H, 1.0)), (n + "layer_norm1.bias", vec(H))]
        for p in ("q", "k", "v", "out"):
            w += [(n + "self_attn.%s_proj.weight" % p, mat(H, H)), (n + "self_attn.%s_proj.bias" % p, vec(H))]
        w += [(n + "layer_norm2.weight", vec(H, 1.0)), (n + "layer_norm2.bias", vec(H)),
              (n + "mlp.fc1.weight", mat(I, H)), (n + "mlp.fc1.bias", vec(I)),
              (n + "mlp.fc2.weight", mat(H, I)), (n + "mlp.fc2.bias", vec(H))]
    w += [("vision_model.post_layernorm.weight", vec(H, 1.0)), ("vision_model.post_layernorm.bias", vec(H)),
          ("visual_projection.weight", mat(CFG["projection_dim"], H))]
    images = rng.standard_normal((IMAGES, 3, CFG["image_size"], CFG["image_size"])).astype(np.float32)
    return w, images


def forward(w, x):
    """CLIPVisionModelWithProjection's forward pass, as modeling_clip.py
    computes it, in the dtype of the tensors given."""
    H, heads, eps = CFG["hidden_size"], CFG["num_attention_heads"], CFG["layer_norm_eps"]
    d = H // heads
    B = x.shape[0]
    # CLIPVisionEmbeddings
    pe = F.conv2d(x, w["vision_model.embeddings.patch_embedding.weight"], stride=CFG["patch_size"])
    pe = pe.flatten(2).transpose(1, 2)
    cls = w["vision_model.embeddings.class_embedding"].expand(B, 1, -1)
    h = torch.cat([cls, pe], dim=1) + w["vision_model.embeddings.position_embedding.weight"][None]
    h = F.layer_norm(h, (H,), w["vision_model.pre_layrnorm.weight"], w["vision_model.pre_layrnorm.bias"], eps)
    T = h.shape[1]
    for i in range(CFG["num_hidden_layers"]):
        n = "vision_model.encoder.layers.%d." % i
        r = h
        h = F.layer_norm(h, (H,), w[n + "layer_norm1.weight"], w[n + "layer_norm1.bias"], eps)
        # CLIPAttention: q scaled by head_dim**-0.5 after its projection
        q = F.linear(h, w[n + "self_attn.q_proj.weight"], w[n + "self_attn.q_proj.bias"]) * d ** -0.5
        k = F.linear(h, w[n + "self_attn.k_proj.weight"], w[n + "self_attn.k_proj.bias"])
        v = F.linear(h, w[n + "self_attn.v_proj.weight"], w[n + "self_attn.v_proj.bias"])
        q, k, v = (t.view(B, T, heads, d).transpose(1, 2) for t in (q, k, v))
        p = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        a = (p @ v).transpose(1, 2).reshape(B, T, H)
        h = r + F.linear(a, w[n + "self_attn.out_proj.weight"], w[n + "self_attn.out_proj.bias"])
        r = h
        h = F.layer_norm(h, (H,), w[n + "layer_norm2.weight"], w[n + "layer_norm2.bias"], eps)
        h = F.linear(h, w[n + "mlp.fc1.weight"], w[n + "mlp.fc1.bias"])
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        h = r + F.linear(h, w[n + "mlp.fc2.weight"], w[n + "mlp.fc2.bias"])
    pooled = F.layer_norm(h[:, 0, :], (H,), w["vision_model.post_layernorm.weight"],
                          w["vision_model.post_layernorm.bias"], eps)
    return F.linear(pooled, w["visual_projection.weight"])


def check_with_transformers(weights, images, want):
    try:
        import transformers
    except ImportError:
        print("transformers is not installed: skipping the check against CLIPVisionModelWithProjection")
        return
    cfg = transformers.CLIPVisionConfig(hidden_act="quick_gelu", num_channels=3, **CFG)
    model = transformers.CLIPVisionModelWithProjection(cfg).eval()
    sd = {k: torch.from_numpy(v) for k, v in weights}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("position_ids") for k in missing), missing
    with torch.no_grad():
        got = model(pixel_values=torch.from_numpy(images)).image_embeds.numpy()
    diff = np.abs(got - want).max()
    assert diff <= 1e-5, "transformers disagrees with this reference by %g" % diff
    print("transformers %s agrees with this reference: max |diff| %.3g" % (transformers.__version__, diff))


def tiny_clip():
    weights, images = tiny_clip_weights()
    os.makedirs(os.path.join(HERE, "tiny_clip"), exist_ok=True)
    H = CFG["hidden_size"]
    T = (CFG["image_size"] // CFG["patch_size"]) ** 2 + 1
    extra = [("logit_scale", np.array(2.6592, dtype=np.float32)),
             ("text_model.final_layer_norm.weight", np.ones(H, dtype=np.float32)),
             ("vision_model.embeddings.position_ids", np.arange(T, dtype=np.int64)[None])]
    write_safetensors(os.path.join(HERE, "tiny_clip", "model.safetensors"), extra + weights, {"format": "pt"})
    os.makedirs(os.path.join(HERE, "tiny_clip_f16"), exist_ok=True)
    write_safetensors(os.path.join(HERE, "tiny_clip_f16", "model.safetensors"),
                      [(n, a.astype(np.float16)) for n, a in weights], {"format": "pt"})
    vision = dict(CFG, architectures=["CLIPVisionModelWithProjection"], model_type="clip_vision_model",
                  hidden_act="quick_gelu", num_channels=3, torch_dtype="float16")
    with open(os.path.join(HERE, "tiny_clip_f16", "config.json"), "w") as f:
        json.dump(vision, f, indent=2, sort_keys=True)
        f.write("\n")
    # A CLIPConfig as HF writes it: vision_config nested with its defaults
    # (hidden_act, layer_norm_eps, num_channels) and intermediate_size left
    # out, projection_dim at the top.
    config = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": CFG["projection_dim"],
              "text_config": {"hidden_size": 32},
              "vision_config": {k: CFG[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                    "patch_size", "image_size")}}
    with open(os.path.join(HERE, "tiny_clip", "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(HERE, "tiny_clip_images.f32"), "wb") as f:
        f.write(images.astype("<f4").tobytes())

    x = torch.from_numpy(images)
    with torch.no_grad():
        w32 = {n: torch.from_numpy(a) for n, a in weights}
        out32 = forward(w32, x).numpy()
        out64 = forward({n: t.double() for n, t in w32.items()}, x.double()).numpy()
        w16 = {n: torch.from_numpy(a.astype(np.float16).astype(np.float32)) for n, a in weights}
        out16 = forward(w16, x).numpy()
    print("tiny CLIP: float32 vs float64 reference: max |diff| %.3g" % np.abs(out32 - out64).max())
    print("tiny CLIP: F16 weights vs F32 weights (float32): max |diff| %.3g" % np.abs(out16 - out32).max())
    check_with_transformers(weights, images, out32)
    expected = {"config": CFG, "images": IMAGES,
                "float64": out64.tolist(),
                "float32": out32.astype(np.float64).tolist(),
                "f16_weights_float32": out16.astype(np.float64).tolist()}
    with open(os.path.join(HERE, "tiny_clip_expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")


def hashed(n, seed, scale):
    """n float32 values in [-scale/2, scale/2) from an integer hash; every
    step is exact in float32 (24-bit integers, powers of two), so Go's
    hashedWeights in aesthetic_test.go rebuilds them bit for bit."""
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(seed) * np.uint64(40503)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    return ((h >> np.uint64(8)).astype(np.float32) / np.float32(2 ** 24) - np.float32(0.5)) * np.float32(scale)


def mlp(layers, x):
    """The LAION improved aesthetic predictor: Linear layers with dropout
    (the identity at inference) and no activations between them."""
    for wt, b in layers:
        x = x @ wt.T + b
    return x


def aesthetic():
    os.makedirs(AESTHETIC, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    # The narrow MLP, in a file.
    dims = [32, 24, 16, 8, 4, 1]
    layers = [((rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32),
               (0.1 * rng.standard_normal(o)).astype(np.float32)) for i, o in zip(dims, dims[1:])]
    names = ["mlp.layers.%d" % k for k in (0, 2, 4, 6, 7)]
    tensors = []
    for n, (wt, b) in zip(names, layers):
        tensors += [(n + ".weight", wt), (n + ".bias", b)]
    write_safetensors(os.path.join(AESTHETIC, "small_mlp.safetensors"), tensors)
    small_in = rng.standard_normal((3, dims[0]))
    small_in = (small_in / np.linalg.norm(small_in, axis=1, keepdims=True)).astype(np.float32)
    small64 = mlp([(w.astype(np.float64), b.astype(np.float64)) for w, b in layers], small_in.astype(np.float64))
    with torch.no_grad():
        small32 = mlp([(torch.from_numpy(w), torch.from_numpy(b)) for w, b in layers], torch.from_numpy(small_in)).numpy()

    # The full-size MLP, weights from hashed() with seeds 1..10 (weight, bias
    # of each layer in turn) and scales 1/16, 1/16, 1/8, 1/4, 1/2.
    full = [768, 1024, 128, 64, 16, 1]
    scales = [1 / 16, 1 / 16, 1 / 8, 1 / 4, 1 / 2]
    big = []
    for k, (i, o) in enumerate(zip(full, full[1:])):
        big.append((hashed(o * i, 2 * k + 1, scales[k]).reshape(o, i), hashed(o, 2 * k + 2, scales[k])))
    emb = rng.standard_normal(768)
    emb = (emb / np.linalg.norm(emb)).astype(np.float32)
    big64 = mlp([(w.astype(np.float64), b.astype(np.float64)) for w, b in big], emb.astype(np.float64))
    with torch.no_grad():
        big32 = mlp([(torch.from_numpy(w), torch.from_numpy(b)) for w, b in big], torch.from_numpy(emb)).numpy()
    expected = {"small": {"inputs": small_in.astype(np.float64).tolist(),
                          "float64": small64[:, 0].tolist(), "float32": small32[:, 0].astype(np.float64).tolist()},
                "full": {"seeds": "weight 2k+1, bias 2k+2 for layer k = 0..4", "scales": scales,
                         "input": emb.astype(np.float64).tolist(),
                         "float64": float(big64[0]), "float32": float(big32[0])}}
    with open(os.path.join(AESTHETIC, "expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print("aesthetic: small scores %s, full-size score %.9g" % (np.round(small64[:, 0], 6).tolist(), big64[0]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    tiny_clip()
    aesthetic()
