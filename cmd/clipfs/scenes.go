package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/transnet"
)

// sceneReport is one video's line of `clipfs scenes --json`.
type sceneReport struct {
	Video     string    `json:"video"`
	Algorithm string    `json:"algorithm"`
	FPS       float64   `json:"fps"`
	Frames    int       `json:"frames"`
	Scores    []float64 `json:"scores"`
	Cuts      []int     `json:"cuts"`
	Scenes    [][2]int  `json:"scenes"`
}

// runScenes is `clipfs scenes`: the equivalent of `scenedetect
// detect-content list-scenes` (or NeMo's TransNetV2 stage before its
// post-processing) for each video named.
func runScenes(ctx context.Context, args []string, stderr io.Writer) error {
	flags := newFlags("scenes", "scenes [--algorithm content|transnetv2] [--transnetv2-model PATH] [--json] VIDEO...", stderr)
	algorithm := flags.String("algorithm", "content", "content (PySceneDetect's detect-content, defaults as in its detect()) or transnetv2 (NeMo Curator's default splitting)")
	threshold := flags.Float64("threshold", 27, "content: a frame whose mean HSV change from the one before reaches this (0-255) is a cut")
	minLen := flags.Int("min-scene-len", 15, "content: minimum scene length in frames (PySceneDetect's flash filter, merge mode)")
	model := flags.String("transnetv2-model", "", "transnetv2: NeMo's transnetv2-pytorch-weights.pth, or a .safetensors with the same tensor names")
	tnThreshold := flags.Float64("transnetv2-threshold", 0.4, "transnetv2: a frame whose transition probability is above this is a transition")
	asJSON := flags.Bool("json", false, "one JSON object per video: video, algorithm, fps, frames, scores (one per frame), cuts, scenes ([start, end) frames, before NeMo's post-processing)")
	threads := flags.Int("threads", 0, "ffmpeg decoding threads (0: ffmpeg's choice)")
	videos, err := parse(flags, args)
	if err != nil {
		return err
	}
	if len(videos) == 0 {
		return usageError{"scenes needs at least one VIDEO"}
	}
	var net *transnet.Net
	switch *algorithm {
	case "content":
		if !(*threshold > 0) || math.IsInf(*threshold, 0) || *minLen < 1 {
			return usageError{"scenes: --threshold must be positive and --min-scene-len at least 1"}
		}
		if *model != "" {
			return usageError{"scenes: --transnetv2-model is for --algorithm transnetv2"}
		}
	case "transnetv2":
		if *model == "" {
			return usageError{"scenes --algorithm transnetv2 needs --transnetv2-model PATH"}
		}
		if !(*tnThreshold > 0 && *tnThreshold < 1) {
			return usageError{"scenes: --transnetv2-threshold must be between 0 and 1"}
		}
		m, err := transnet.Load(*model)
		if err != nil {
			return err
		}
		net = transnet.NewNet(m, runtime.GOMAXPROCS(0))
	default:
		return usageError{fmt.Sprintf("scenes: --algorithm %q is not content or transnetv2", *algorithm)}
	}
	tools, err := media.DefaultTools()
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	failed := 0
	for _, video := range videos {
		t0 := time.Now()
		rep, err := analyze(ctx, tools, video, *algorithm, net, *threshold, *minLen, *tnThreshold, *threads)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var me *media.MediaError
		var ee *fault.EnvError
		switch {
		case errors.As(err, &me) || errors.As(err, &ee):
			fmt.Fprintf(stderr, "clipfs scenes: %s\n", err)
			failed++
			continue
		case err != nil:
			return err
		}
		if *asJSON {
			if err := out.Encode(rep); err != nil {
				return err
			}
			continue
		}
		printScenes(os.Stdout, rep, time.Since(t0))
	}
	if failed > 0 {
		return partialError{fmt.Errorf("%d of %d videos could not be analysed", failed, len(videos))}
	}
	return nil
}

// analyze finds the scenes of one video.
func analyze(ctx context.Context, tools media.Tools, video, algorithm string, net *transnet.Net, threshold float64, minLen int, tnThreshold float64, threads int) (*sceneReport, error) {
	if _, err := os.Stat(video); err != nil {
		return nil, media.FileError(video, err)
	}
	info, err := tools.Probe(ctx, video)
	if err != nil {
		return nil, err
	}
	rep := &sceneReport{Video: video, Algorithm: algorithm}
	if algorithm == "content" {
		a, err := tools.AnalyzeScenes(ctx, media.File(video), info.Width, info.Height, info.PixelFormat, threshold, minLen, threads)
		if err != nil {
			return nil, err
		}
		rep.FPS, rep.Frames, rep.Scores, rep.Cuts = a.FPS, a.Frames, a.Scores, a.Cuts
		rep.Scenes = plan.ScenesFromCuts(a.Cuts, a.Frames)
		return rep, nil
	}
	sc := net.NewScorer()
	frames, err := tools.DecodeShotFrames(ctx, media.File(video), max(threads, 0), sc.Push)
	if err != nil {
		return nil, err
	}
	scores, err := sc.Finish()
	if err != nil {
		return nil, &media.MediaError{Path: video, Reason: err.Error()}
	}
	rep.FPS, rep.Frames = info.FrameRate, frames
	rep.Scores = make([]float64, len(scores))
	for i, s := range scores {
		rep.Scores[i] = float64(s)
	}
	rep.Scenes = transnet.Scenes(scores, tnThreshold)
	for i, s := range rep.Scenes {
		if i > 0 {
			rep.Cuts = append(rep.Cuts, s[0])
		}
	}
	return rep, nil
}

// printScenes prints a report as scenedetect's list-scenes does: a table
// of scenes with their frames and times, then the cut frames.
func printScenes(w io.Writer, r *sceneReport, took time.Duration) {
	fmt.Fprintf(w, "%s: %d frames at %.6g fps, %d scenes (%s, %.1f s)\n", r.Video, r.Frames, r.FPS, len(r.Scenes), r.Algorithm, took.Seconds())
	fmt.Fprintf(w, "  %5s  %11s  %13s  %9s  %13s\n", "scene", "start frame", "start", "end frame", "end")
	for i, s := range r.Scenes {
		fmt.Fprintf(w, "  %5d  %11d  %13s  %9d  %13s\n", i+1, s[0], timecode(float64(s[0])/r.FPS), s[1], timecode(float64(s[1])/r.FPS))
	}
	fmt.Fprint(w, "  cuts:")
	if len(r.Cuts) == 0 {
		fmt.Fprint(w, " none")
	}
	for _, c := range r.Cuts {
		fmt.Fprintf(w, " %d", c)
	}
	fmt.Fprintln(w)
}

// timecode is HH:MM:SS.mmm.
func timecode(sec float64) string {
	if !(sec >= 0) || math.IsInf(sec, 0) {
		return "-"
	}
	ms := int64(math.Round(sec * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
