package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/motion"
	clipfs "github.com/clipfs/clipfs/fs"
	"github.com/clipfs/clipfs/index"
)

func runCurate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("curate", "curate --input DIR --db DIR [flags]", stderr)
	var cfg curate.Config
	var dbDir string
	var verbose bool
	stride := curate.DefaultStride()
	fs.StringVar(&cfg.Input, "input", "", "folder of source videos, searched recursively (.mp4 .mov .avi .mkv .webm)")
	fs.StringVar(&cfg.Input, "video-dir", "", "same as --input (NeMo Curator's name)")
	fs.StringVar(&dbDir, "db", "", "database folder (created if missing)")
	fs.Float64Var(&stride.ClipLen, "fixed-stride-split-duration", stride.ClipLen, "clip length in seconds")
	fs.Float64Var(&stride.Stride, "fixed-stride-stride", stride.Stride, "seconds between clip starts")
	fs.Float64Var(&stride.MinClipLen, "fixed-stride-min-clip-length-s", stride.MinClipLen, "drop a (last) clip shorter than this many seconds")
	splitting := fs.String("splitting-algorithm", "fixed_stride", "how videos are cut into clips: fixed_stride or scene")
	scene := curate.DefaultSceneParams()
	fs.Float64Var(&scene.Threshold, "scene-threshold", scene.Threshold, "scene: cut where the mean HSV change between two frames reaches this (0-255)")
	fs.IntVar(&scene.MinSceneLen, "scene-min-frames", scene.MinSceneLen, "scene: frames at least between two detected cuts")
	fs.Float64Var(&scene.MaxLength, "scene-max-length-s", scene.MaxLength, "scene: cut longer scenes into pieces this long (0: no limit)")
	fs.Float64Var(&scene.MaxLength, "transnetv2-max-length-s", scene.MaxLength, "same as --scene-max-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.MinLength, "scene-min-length-s", scene.MinLength, "scene: drop clips shorter than this after cropping (0: keep all)")
	fs.Float64Var(&scene.MinLength, "transnetv2-min-length-s", scene.MinLength, "same as --scene-min-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.Crop, "scene-crop-s", scene.Crop, "scene: trim this much from both ends of every scene")
	fs.Float64Var(&scene.Crop, "transnetv2-crop-s", scene.Crop, "same as --scene-crop-s (NeMo Curator's name)")
	motionMode := fs.String("motion-filter", "disable", "motion score: disable, enable (move clips with too little motion to filtered_clips/) or score-only")
	thr := motion.DefaultThresholds()
	fs.Float64Var(&thr.GlobalMean, "motion-global-mean-threshold", thr.GlobalMean, "motion: a clip whose global mean is below this is filtered")
	fs.Float64Var(&thr.PerPatchMin256, "motion-per-patch-min-256-threshold", thr.PerPatchMin256, "motion: a clip whose per-patch minimum is below this is filtered")
	capFlags := captionFlags(fs)
	models := modelFlags(fs)
	fs.IntVar(&cfg.Workers, "workers", 0, "parallel ffmpeg jobs (default: number of cores)")
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "probe, split and count only: record video and chunk metadata, no clips")
	fs.BoolVar(&cfg.NoUploadClips, "no-upload-clips", false, "transcode and score clips but keep no clip media")
	fs.BoolVar(&cfg.GeneratePreviews, "generate-previews", false, "write one WebP preview per window")
	fs.BoolVar(&verbose, "verbose", false, "log every clip")
	lim := index.DefaultShardLimits()
	fs.Int64Var(&lim.TargetBytes, "shard-target-bytes", lim.TargetBytes, "seal a WebDataset shard once its members reach this many bytes")
	fs.IntVar(&lim.MaxSamples, "shard-max-samples", lim.MaxSamples, "seal a WebDataset shard once it holds this many samples")
	_, err := parse(fs, args)
	if err != nil {
		return err
	}
	if cfg.Input == "" || dbDir == "" {
		return usageError{"curate needs --input DIR and --db DIR"}
	}
	switch cfg.Splitting = curate.Splitting(*splitting); cfg.Splitting {
	case curate.SplitFixedStride, curate.SplitScene:
	default:
		return usageError{fmt.Sprintf("--splitting-algorithm %q is not one of fixed_stride, scene", *splitting)}
	}
	if err := scene.Validate(); err != nil {
		return usageError{err.Error()}
	}
	cfg.Scene = scene
	switch cfg.Motion = curate.MotionMode(*motionMode); cfg.Motion {
	case curate.MotionDisable, curate.MotionEnable, curate.MotionScoreOnly:
	default:
		return usageError{fmt.Sprintf("--motion-filter %q is not one of enable, disable, score-only", *motionMode)}
	}
	if !(thr.GlobalMean >= 0) || !(thr.PerPatchMin256 >= 0) {
		return usageError{"motion thresholds must be numbers >= 0"}
	}
	cfg.MotionThresholds = thr
	if cfg.Captions, err = capFlags.captioning(); err != nil {
		return err
	}
	if !flagSet(fs, "fixed-stride-stride") {
		stride.Stride = stride.ClipLen // NeMo uses the split duration as the stride
	}
	if err := stride.Validate(); err != nil {
		return usageError{err.Error()}
	}
	cfg.Stride = stride
	if lim.TargetBytes <= 0 || lim.MaxSamples <= 0 {
		return usageError{"--shard-target-bytes and --shard-max-samples must be positive"}
	}
	cfg.Shards, cfg.RenderMeta = lim, clipfs.ShardMetaJSON
	tools, err := curate.DefaultTools()
	if err != nil {
		return err
	}
	progress := curate.NewProgress(stderr, isTerminal(os.Stderr) && stderr == os.Stderr)
	log := newLogger(progress.Writer(), verbose)
	cfg.Log, cfg.Progress = log, progress
	loaded, err := models.apply(&cfg, log)
	if err != nil {
		return err
	}
	defer loaded.close()
	db, err := index.Open(dbDir, index.Options{Create: true, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := curate.Run(ctx, db, tools, cfg)
	if err != nil && rep.Videos == 0 && len(rep.Failed) == 0 {
		return err // nothing ran: the input itself is wrong
	}
	fmt.Fprintf(stderr, "clipfs: %d videos: %d curated, %d up to date, %d failed; %d clips (%.1f s of video) committed\n",
		rep.Videos, rep.Curated, rep.UpToDate, len(rep.Failed), rep.Clips, rep.Seconds)
	if errors.Is(err, curate.ErrSomeFailed) {
		return partialError{err}
	}
	return err
}
