"""Checks the counters and cross references of a clipfs tree (mount or
export) against docs/formats.md §3, reading everything with Python's json, and
prints {"problems": [...], "totals": {counter: sum over chunks, "chunks": n}}
as JSON (no problems when all is well).

usage: /usr/bin/python3 check_counters.py ROOT [--motion GLOBAL_MEAN PER_PATCH_MIN_256] [--aesthetic THRESHOLD]

Give --motion only for trees curated with --motion-filter enable, and
--aesthetic only with --aesthetic-threshold.

Rules checked, per processed_clip_chunks file:
- clips / filtered_clips name metas whose clip_location is under clips/ and
  filtered_clips/ respectively; num_clips_passed = len(clips);
  motion + aesthetic filtered = len(filtered_clips), and a clip counted as
  filtered by motion has a small motion score under the thresholds;
- num_clips_transcoded = clips (passed or filtered) whose metas carry num_bytes;
- num_clips_with_caption = clips with at least one <m>_caption in a window;
- num_clips_with_webp = passed clips with a previews/<uuid>/ folder, and
  every window of such a clip has its <s>_<e>.webp;
- num_clips_with_embeddings = passed clips with a pickle, per <p>_embd/;
- total_clip_duration / max_clip_duration over passed and filtered spans;
- all_windows / all_windows_enhanced_caption: one entry per passed clip, in
  order, with the first caption model's text per captioned window;
and per clip: valid = has bytes and windows; filtered clips have no windows,
previews or embeddings; a passed clip's motion score (if any) is not small
when it was filtered by nothing; and per video: num_total_clips = passed +
filtered over its chunks.
"""
import json
import math
import os
import sys

root = sys.argv[1]
gm_thr = pp_thr = aes_thr = None
args = sys.argv[2:]
while args:
    if args[0] == "--motion":
        gm_thr, pp_thr, args = float(args[1]), float(args[2]), args[3:]
    elif args[0] == "--aesthetic":
        aes_thr, args = float(args[1]), args[2:]
    else:
        sys.exit(f"check_counters: unknown argument {args[0]}")
problems = []
sums = {"chunks": 0}


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def load(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return json.loads(f.read())


def small_motion(meta):
    m = meta.get("motion_score")
    if m is None or gm_thr is None:
        return None
    return m["global_mean"] < gm_thr or m["per_patch_min_256"] < pp_thr


def caption_models(window, suffix):
    out = []
    for k, v in window.items():
        if k.endswith("_enhanced_caption"):
            if suffix == "_enhanced_caption":
                out.append(v)
        elif k.endswith("_caption") and suffix == "_caption":
            out.append(v)
    return out


embd_dirs = [d for d in os.listdir(root) if d.endswith("_embd")]
chunk_dir = os.path.join(root, "processed_clip_chunks")
totals = {}  # video -> clips seen in chunks
for dirpath, _, files in os.walk(chunk_dir):
    for name in sorted(files):
        rel = os.path.relpath(os.path.join(dirpath, name), root)
        ch = load(rel)
        sums["chunks"] += 1
        for k, v in ch.items():
            if k.startswith("num_"):
                sums[k] = sums.get(k, 0) + v
        video = ch["video"]
        totals[video] = totals.get(video, 0) + len(ch["clips"]) + len(ch["filtered_clips"])
        metas = {}
        for state, ids in (("clips", ch["clips"]), ("filtered_clips", ch["filtered_clips"])):
            for cid in ids:
                try:
                    meta = load(f"metas/v0/{cid}.json")
                except FileNotFoundError:
                    bad(rel, f"{state} names {cid}, which has no metas")
                    continue
                metas[cid] = (state, meta)
                loc = meta["clip_location"]
                if not loc.endswith(f"/{state}/{cid}.mp4") and loc != f"{state}/{cid}.mp4":
                    bad(cid, f"clip_location {loc} is not under {state}/")
                if meta["source_video"] != video:
                    bad(cid, f"source_video {meta['source_video']} is not the chunk's video {video}")
                has_bytes = "num_bytes" in meta
                if meta["valid"] != (has_bytes and len(meta["windows"]) > 0):
                    bad(cid, f"valid is {meta['valid']} with bytes={has_bytes} windows={len(meta['windows'])}")
                if state == "filtered_clips":
                    if meta["windows"]:
                        bad(cid, "a filtered clip has windows")
                    if os.path.exists(os.path.join(root, "previews", cid)):
                        bad(cid, "a filtered clip has previews")
                    for d in embd_dirs:
                        if os.path.exists(os.path.join(root, d, cid + ".pickle")):
                            bad(cid, f"a filtered clip has an embedding in {d}")
                elif small_motion(meta) is True:
                    bad(cid, f"passed with a small motion score {meta['motion_score']}")
        if ch["num_clips_passed"] != len(ch["clips"]):
            bad(rel, f"num_clips_passed {ch['num_clips_passed']} != {len(ch['clips'])} clips")
        filtered = ch["num_clips_filtered_by_motion"] + ch["num_clips_filtered_by_aesthetic"]
        if filtered != len(ch["filtered_clips"]):
            bad(rel, f"filtered counters {filtered} != {len(ch['filtered_clips'])} filtered_clips")
        if gm_thr is not None:
            by_motion = sum(1 for cid in ch["filtered_clips"] if cid in metas and small_motion(metas[cid][1]))
            if by_motion != ch["num_clips_filtered_by_motion"]:
                bad(rel, f"num_clips_filtered_by_motion {ch['num_clips_filtered_by_motion']}, {by_motion} filtered clips have small motion")
        if aes_thr is not None:
            by_aes = 0
            for cid in ch["filtered_clips"]:
                meta = metas.get(cid, (None, {}))[1]
                if small_motion(meta):
                    continue
                score = meta.get("aesthetic_score")
                if score is None or score >= aes_thr:
                    bad(cid, f"filtered with aesthetic_score {score} (threshold {aes_thr}) and no small motion")
                else:
                    by_aes += 1
            for cid in ch["clips"]:
                score = metas.get(cid, (None, {}))[1].get("aesthetic_score")
                if score is not None and score < aes_thr:
                    bad(cid, f"passed with aesthetic_score {score} below {aes_thr}")
            if by_aes != ch["num_clips_filtered_by_aesthetic"]:
                bad(rel, f"num_clips_filtered_by_aesthetic {ch['num_clips_filtered_by_aesthetic']}, {by_aes} clips are under the threshold")
        every = list(metas.values())
        want = sum(1 for _, m in every if "num_bytes" in m)
        if ch["num_clips_transcoded"] != want:
            bad(rel, f"num_clips_transcoded {ch['num_clips_transcoded']} != {want}")
        want = sum(1 for _, m in every if any(caption_models(w, "_caption") for w in m["windows"]))
        if ch["num_clips_with_caption"] != want:
            bad(rel, f"num_clips_with_caption {ch['num_clips_with_caption']} != {want}")
        webp = 0
        for cid in ch["clips"]:
            pdir = os.path.join(root, "previews", cid)
            if os.path.isdir(pdir):
                webp += 1
                have = set(os.listdir(pdir))
                for w in metas.get(cid, (None, {"windows": []}))[1]["windows"]:
                    if f"{w['start_frame']}_{w['end_frame']}.webp" not in have:
                        bad(cid, f"window {w['start_frame']}_{w['end_frame']} has no preview")
        if ch["num_clips_with_webp"] != webp:
            bad(rel, f"num_clips_with_webp {ch['num_clips_with_webp']} != {webp}")
        emb = sum(1 for cid in ch["clips"] for d in embd_dirs if os.path.exists(os.path.join(root, d, cid + ".pickle")))
        if ch["num_clips_with_embeddings"] != emb:
            bad(rel, f"num_clips_with_embeddings {ch['num_clips_with_embeddings']} != {emb}")
        spans = [m["duration_span"][1] - m["duration_span"][0] for _, m in every]
        if not math.isclose(ch["total_clip_duration"], sum(spans), rel_tol=1e-9, abs_tol=1e-9):
            bad(rel, f"total_clip_duration {ch['total_clip_duration']} != {sum(spans)}")
        if not math.isclose(ch["max_clip_duration"], max(spans, default=0.0), rel_tol=1e-12, abs_tol=1e-12):
            bad(rel, f"max_clip_duration {ch['max_clip_duration']} != {max(spans, default=0.0)}")
        for key, suffix in (("all_windows", "_caption"), ("all_windows_enhanced_caption", "_enhanced_caption")):
            aw = ch[key]
            if list(aw.keys()) != ch["clips"]:
                bad(rel, f"{key} keys {list(aw.keys())} are not the passed clips {ch['clips']}")
                continue
            for cid in ch["clips"]:
                if cid not in metas:
                    continue
                want = {}
                for w in metas[cid][1]["windows"]:
                    texts = caption_models(w, suffix)
                    if texts:
                        want[f"{w['start_frame']}_{w['end_frame']}"] = texts[0]
                if aw[cid] != want:
                    bad(rel, f"{key}[{cid}] = {aw[cid]}, metas say {want}")

for dirpath, _, files in os.walk(os.path.join(root, "processed_videos")):
    for name in files:
        rel = os.path.relpath(os.path.join(dirpath, name), root)
        v = load(rel)
        if v["num_total_clips"] != totals.get(v["video"], 0):
            bad(rel, f"num_total_clips {v['num_total_clips']} != {totals.get(v['video'], 0)} clips in its chunks")

json.dump({"problems": problems, "totals": sums}, sys.stdout)
