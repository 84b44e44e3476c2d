package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

func runCurate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("curate", "curate --input DIR --db DIR [flags]", stderr)
	co := curateFlags(fs)
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "log every clip")
	_, err := parse(fs, args)
	if err != nil {
		return err
	}
	if co.cfg.Input == "" || co.db == "" {
		return usageError{"curate needs --input DIR and --db DIR"}
	}
	if err := refuseIfServed(co.db); err != nil {
		return err
	}
	progress := curate.NewProgress(stderr, isTerminal(os.Stderr) && stderr == os.Stderr)
	log := newLogger(progress.Writer(), verbose)
	cfg, loaded, err := co.config(fs, log)
	if err != nil {
		return err
	}
	defer loaded.close()
	cfg.Progress = progress
	db, err := index.Open(co.db, index.Options{Create: true, Logger: log})
	if err != nil {
		if fault.Environmental(err) {
			return unfinishedError{err}
		}
		return err
	}
	defer db.Close()
	rep, err := curate.Run(ctx, db, co.tools, cfg)
	if err != nil && rep.Videos == 0 && len(rep.Failed) == 0 {
		return err // nothing ran: the input itself is wrong
	}
	unfinished := ""
	if n := len(rep.Unfinished) + rep.NotStarted; n > 0 {
		unfinished = fmt.Sprintf(", %d unfinished", n)
	}
	fmt.Fprintf(stderr, "clipfs: %d videos: %d curated, %d up to date, %d failed%s; %d clips (%.1f s of video) committed\n",
		rep.Videos, rep.Curated, rep.UpToDate, len(rep.Failed), unfinished, rep.Clips, rep.Seconds)
	if errors.Is(err, fault.ErrUnfinished) {
		return unfinishedError{err}
	}
	if errors.Is(err, curate.ErrSomeFailed) {
		return partialError{err}
	}
	return err
}

// curateOptions are the flags that say what curation does, shared by
// curate and serve.
type curateOptions struct {
	cfg       curate.Config
	db        string
	stride    plan.StrideParams
	splitting *string
	scene     plan.SceneParams
	motion    *string
	thr       motion.Thresholds
	captions  *captionOptions
	models    *modelOptions
	lim       index.ShardLimits
	tools     media.Tools
}

func curateFlags(fs *flag.FlagSet) *curateOptions {
	o := &curateOptions{stride: plan.DefaultStride(), scene: plan.DefaultSceneParams(),
		thr: motion.DefaultThresholds(), lim: index.DefaultShardLimits()}
	cfg := &o.cfg
	fs.StringVar(&cfg.Input, "input", "", "folder of source videos, searched recursively (.mp4 .mov .avi .mkv .webm)")
	fs.StringVar(&cfg.Input, "video-dir", "", "same as --input (NeMo Curator's name)")
	fs.StringVar(&o.db, "db", "", "database folder (created if missing)")
	fs.Float64Var(&o.stride.ClipLen, "fixed-stride-split-duration", o.stride.ClipLen, "clip length in seconds")
	fs.Float64Var(&o.stride.Stride, "fixed-stride-stride", o.stride.Stride, "seconds between clip starts")
	fs.Float64Var(&o.stride.MinClipLen, "fixed-stride-min-clip-length-s", o.stride.MinClipLen, "drop a (last) clip shorter than this many seconds")
	o.splitting = fs.String("splitting-algorithm", "fixed_stride", "how videos are cut into clips: fixed_stride or scene")
	scene := &o.scene
	fs.Float64Var(&scene.Threshold, "scene-threshold", scene.Threshold, "scene: cut where the mean HSV change between two frames reaches this (0-255)")
	fs.IntVar(&scene.MinSceneLen, "scene-min-frames", scene.MinSceneLen, "scene: frames at least between two detected cuts")
	fs.Float64Var(&scene.MaxLength, "scene-max-length-s", scene.MaxLength, "scene: cut longer scenes into pieces this long (0: no limit)")
	fs.Float64Var(&scene.MaxLength, "transnetv2-max-length-s", scene.MaxLength, "same as --scene-max-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.MinLength, "scene-min-length-s", scene.MinLength, "scene: drop clips shorter than this after cropping (0: keep all)")
	fs.Float64Var(&scene.MinLength, "transnetv2-min-length-s", scene.MinLength, "same as --scene-min-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.Crop, "scene-crop-s", scene.Crop, "scene: trim this much from both ends of every scene")
	fs.Float64Var(&scene.Crop, "transnetv2-crop-s", scene.Crop, "same as --scene-crop-s (NeMo Curator's name)")
	o.motion = fs.String("motion-filter", "disable", "motion score: disable, enable (move clips with too little motion to filtered_clips/) or score-only")
	fs.Float64Var(&o.thr.GlobalMean, "motion-global-mean-threshold", o.thr.GlobalMean, "motion: a clip whose global mean is below this is filtered")
	fs.Float64Var(&o.thr.PerPatchMin256, "motion-per-patch-min-256-threshold", o.thr.PerPatchMin256, "motion: a clip whose per-patch minimum is below this is filtered")
	o.captions = captionFlags(fs)
	o.models = modelFlags(fs)
	fs.IntVar(&cfg.Workers, "workers", 0, "parallel ffmpeg jobs (default: number of cores)")
	cfg.MinFree = fault.MinFreeDefault
	fs.Var(sizeValue{&cfg.MinFree}, "min-free", "stop (serve: pause) before the database's filesystem has less than this free, e.g. 1GiB, 500MB; 0: no guard (default: 1GiB, or 5% of the filesystem if less)")
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "probe, split and count only: record video and chunk metadata, no clips")
	fs.BoolVar(&cfg.NoUploadClips, "no-upload-clips", false, "transcode and score clips but keep no clip media")
	fs.BoolVar(&cfg.GeneratePreviews, "generate-previews", false, "write one WebP preview per window")
	fs.Int64Var(&o.lim.TargetBytes, "shard-target-bytes", o.lim.TargetBytes, "seal a WebDataset shard once its members reach this many bytes")
	fs.IntVar(&o.lim.MaxSamples, "shard-max-samples", o.lim.MaxSamples, "seal a WebDataset shard once it holds this many samples")
	return o
}

// config checks the parsed flags, finds ffmpeg and loads the models. The
// caller closes what it returns.
func (o *curateOptions) config(fs *flag.FlagSet, log *slog.Logger) (curate.Config, *loadedModels, error) {
	cfg := o.cfg
	switch cfg.Splitting = curate.Splitting(*o.splitting); cfg.Splitting {
	case curate.SplitFixedStride, curate.SplitScene:
	default:
		return cfg, nil, usageError{fmt.Sprintf("--splitting-algorithm %q is not one of fixed_stride, scene", *o.splitting)}
	}
	if err := o.scene.Validate(); err != nil {
		return cfg, nil, usageError{err.Error()}
	}
	cfg.Scene = o.scene
	switch cfg.Motion = curate.MotionMode(*o.motion); cfg.Motion {
	case curate.MotionDisable, curate.MotionEnable, curate.MotionScoreOnly:
	default:
		return cfg, nil, usageError{fmt.Sprintf("--motion-filter %q is not one of enable, disable, score-only", *o.motion)}
	}
	if !(o.thr.GlobalMean >= 0) || !(o.thr.PerPatchMin256 >= 0) {
		return cfg, nil, usageError{"motion thresholds must be numbers >= 0"}
	}
	cfg.MotionThresholds = o.thr
	var err error
	if cfg.Captions, err = o.captions.captioning(); err != nil {
		return cfg, nil, err
	}
	stride := o.stride
	if !flagSet(fs, "fixed-stride-stride") {
		stride.Stride = stride.ClipLen // NeMo uses the split duration as the stride
	}
	if err := stride.Validate(); err != nil {
		return cfg, nil, usageError{err.Error()}
	}
	cfg.Stride = stride
	if o.lim.TargetBytes <= 0 || o.lim.MaxSamples <= 0 {
		return cfg, nil, usageError{"--shard-target-bytes and --shard-max-samples must be positive"}
	}
	cfg.Shards = o.lim
	if o.tools, err = media.DefaultTools(); err != nil {
		return cfg, nil, err
	}
	cfg.Log = log
	loaded, err := o.models.apply(&cfg, log)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, loaded, nil
}
