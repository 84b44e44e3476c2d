#!/usr/bin/python3
"""Expected scene cuts for the videos in this directory, from PySceneDetect itself.

Usage (PySceneDetect 0.7.1 source on PYTHONPATH, Debian's python3-opencv):

    PYTHONPATH=/work/ref/psd /usr/bin/python3 pyscenedetect.py *.mp4 > expected.json

For each video this runs

  1. scenedetect.detect(path, ContentDetector()), exactly as a user would (the reference
     cuts and scenes), and
  2. the same flow detect() uses (open_video(backend="opencv"), SceneManager, add_detector,
     detect_scenes, get_scene_list), but with a StatsManager and a ContentDetector subclass
     that only records each frame's position and score after the real process_frame ran,

checks that both give the same scenes (the StatsManager makes ContentDetector also compute
edges, which have weight 0, so it must not change anything) and that the recorded scores
equal the StatsManager's content_val, and prints one JSON document.  A summary per video
(frames with score >= threshold vs cuts) goes to stderr.

pts_ms is cv2.CAP_PROP_POS_MSEC after each grab() in a separate plain VideoCapture pass (the
detector never sees it directly).  OpenCV 4.6 reports 0.0 for the frames drained from the
decoder at the end of the file; PySceneDetect then falls back to a position derived from
CAP_PROP_POS_FRAMES (backends/opencv.py VideoStreamCv2.position), which frame_nums shows.
"""

import json
import os
import subprocess
import sys

import cv2

import scenedetect
from scenedetect import ContentDetector, SceneManager, StatsManager, open_video
from scenedetect.scene_manager import compute_downscale_factor

THRESHOLD = 27.0  # ContentDetector's default


class RecordingContentDetector(ContentDetector):
    """ContentDetector that records what it saw; results are those of ContentDetector."""

    def __init__(self):
        super().__init__()
        self.positions = []
        self.scores = []
        self.frame_shape = None

    def process_frame(self, timecode, frame_img):
        cuts = super().process_frame(timecode, frame_img)
        if self.frame_shape is None:
            self.frame_shape = frame_img.shape
        self.positions.append(timecode)
        self.scores.append(float(self._frame_score))
        return cuts


def scene_pairs(scenes):
    return [[s.frame_num, e.frame_num] for s, e in scenes]


def raw_pos_msec(path):
    cap = cv2.VideoCapture(path)
    out = []
    while cap.grab():
        out.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    cap.release()
    return out


def ffprobe(path):
    """The video stream as ffprobe sees it (frames counted by decoding)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames,nb_frames,r_frame_rate,avg_frame_rate,time_base,duration",
         "-of", "json", path],
        check=True, capture_output=True, text=True,
    ).stdout
    st = json.loads(out)["streams"][0]
    return {
        "nb_read_frames": int(st["nb_read_frames"]),
        "nb_frames": int(st["nb_frames"]),
        "r_frame_rate": st["r_frame_rate"],
        "avg_frame_rate": st["avg_frame_rate"],
        "time_base": st["time_base"],
        "duration": st["duration"],
    }


def run(path):
    # 1. The public API, as is.
    reference = scenedetect.detect(path, ContentDetector())

    # 2. What detect() does (scenedetect/__init__.py detect()), plus recording.
    video = open_video(path, backend="opencv")
    stats = StatsManager()
    manager = SceneManager(stats)
    detector = RecordingContentDetector()
    manager.add_detector(detector)
    frames = manager.detect_scenes(video=video, show_progress=False, end_time=None)
    scenes = manager.get_scene_list(start_in_scene=False)

    if scene_pairs(scenes) != scene_pairs(reference) or [
        (s.seconds, e.seconds) for s, e in scenes
    ] != [(s.seconds, e.seconds) for s, e in reference]:
        raise SystemExit(f"{path}: scenes differ with a StatsManager: {scenes} vs {reference}")
    for tc, score in zip(detector.positions, detector.scores):
        if stats.metrics_exist(tc, [ContentDetector.FRAME_SCORE_KEY]):
            got = stats.get_metrics(tc, [ContentDetector.FRAME_SCORE_KEY])[0]
            if got != score and tc != detector.positions[0]:
                raise SystemExit(f"{path}: stats content_val {got} != score {score} at {tc!r}")

    cuts = [s.frame_num for s, _ in reference[1:]]
    width, height = video.frame_size
    pts_ms = raw_pos_msec(path)
    if len(pts_ms) != len(detector.scores):
        raise SystemExit(f"{path}: {len(pts_ms)} grabs vs {len(detector.scores)} frames processed")
    frame_rate = video.frame_rate
    info = {
        "ffprobe": ffprobe(path),
        "width": width,
        "height": height,
        "cap_prop_fps": cv2.VideoCapture(path).get(cv2.CAP_PROP_FPS),
        "fps": float(frame_rate),
        "fps_fraction": [frame_rate.numerator, frame_rate.denominator],
        "frames": frames,
        "downscale": compute_downscale_factor(max(width, height)),
        "processed_size": [detector.frame_shape[1], detector.frame_shape[0]],
        "cuts": cuts,
        "cuts_seconds": [s.seconds for s, _ in reference[1:]],
        "scenes": scene_pairs(reference),
        "scores": detector.scores,
        "frame_nums": [tc.frame_num for tc in detector.positions],
        "pts_ms": pts_ms,
        "above_threshold": sum(1 for s in detector.scores if s >= THRESHOLD),
        # Frames whose score is within 5 of the threshold: where a reimplementation's small
        # decoding/scaling differences could flip the above/below decision.
        "near_threshold": [
            [i, s] for i, s in enumerate(detector.scores) if abs(s - THRESHOLD) < 5.0
        ],
    }
    return info


def main(paths):
    videos = {}
    for path in paths:
        name = os.path.basename(path)
        info = run(path)
        videos[name] = info
        above = [i for i, s in enumerate(info["scores"]) if s >= THRESHOLD]
        print(
            f"{name}: {info['width']}x{info['height']} fps={info['fps']:.6g} "
            f"frames={info['frames']} downscale={info['downscale']} -> {info['processed_size']} "
            f"above>=27: {len(above)} {above} cuts: {len(info['cuts'])} {info['cuts']}",
            file=sys.stderr,
        )
    doc = {
        "pyscenedetect": scenedetect.__version__,
        "opencv": cv2.__version__,
        "detector": "ContentDetector() defaults: threshold 27, min_scene_len 15, "
        "FlashFilter MERGE, weights (1,1,1,0), opencv backend, auto downscale",
        "videos": videos,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
