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
	"github.com/clipfs/clipfs/index/s3store"
)

func runCurate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("curate", "curate --input DIR|s3://BUCKET/PREFIX/ --db DIR [flags]", stderr)
	co := curateFlags(fs)
	var verbose bool
	fs.BoolVar(&verbose, "verbose", false, "log every clip")
	_, err := parse(fs, args)
	if err != nil {
		return err
	}
	if co.cfg.Input == "" || co.db == "" {
		return usageError{"curate needs --input DIR (or s3://BUCKET/PREFIX/) and --db DIR"}
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
	defer loaded.Close()
	cfg.Progress = progress
	if err := openInput(ctx, &cfg, log); err != nil {
		return err
	}
	db, err := openDB(ctx, co.db, *co.store, index.Options{Create: true, Logger: log}, nil)
	if err != nil {
		if fault.Environmental(err) || errors.Is(err, s3store.ErrUnavailable) {
			return unfinishedError{err}
		}
		return err
	}
	defer db.close()
	rep, err := curate.Run(ctx, db.DB, co.tools, cfg)
	if err != nil && rep.Videos == 0 && len(rep.Failed) == 0 {
		if fault.Environmental(err) && ctx.Err() == nil {
			return unfinishedError{err} // a bucket that could not be listed
		}
		return err // nothing ran: the input itself is wrong
	}
	if perr := db.publish(context.WithoutCancel(ctx)); perr != nil {
		fmt.Fprintf(stderr, "clipfs: %v; run again to publish it\n", perr)
		return unfinishedError{perr}
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
	store     *string
	splitting *string
	motion    *string
	captions  *captionOptions
	models    *modelFlags
	tools     media.Tools
}

func curateFlags(fs *flag.FlagSet) *curateOptions {
	o := &curateOptions{}
	cfg := &o.cfg
	cfg.Stride, cfg.Scene = plan.DefaultStride(), plan.DefaultSceneParams()
	cfg.MotionThresholds, cfg.Shards = motion.DefaultThresholds(), index.DefaultShardLimits()
	fs.StringVar(&cfg.Input, "input", "", "folder of source videos, searched recursively (.mp4 .mov .avi .mkv .webm); curate also takes s3://BUCKET/PREFIX/, every video below it, read in place through presigned URLs (server and credentials as for --store)")
	fs.StringVar(&cfg.Input, "video-dir", "", "same as --input (NeMo Curator's name)")
	fs.StringVar(&o.db, "db", "", "database folder (created if missing)")
	o.store = addStoreFlag(fs)
	stride := &cfg.Stride
	fs.Float64Var(&stride.ClipLen, "fixed-stride-split-duration", stride.ClipLen, "clip length in seconds")
	fs.Float64Var(&stride.Stride, "fixed-stride-stride", stride.Stride, "seconds between clip starts")
	fs.Float64Var(&stride.MinClipLen, "fixed-stride-min-clip-length-s", stride.MinClipLen, "drop a (last) clip shorter than this many seconds")
	o.splitting = fs.String("splitting-algorithm", string(curate.SplitFixedStride), "how videos are cut into clips: fixed_stride, scene (PySceneDetect's ContentDetector) or transnetv2 (NeMo's default; needs --transnetv2-model)")
	scene := &cfg.Scene
	fs.Float64Var(&scene.Threshold, "scene-threshold", scene.Threshold, "scene: a frame whose mean HSV change from the one before reaches this (0-255) is a cut")
	fs.IntVar(&scene.MinSceneLen, "scene-min-frames", scene.MinSceneLen, "scene: minimum scene length in frames, enforced as PySceneDetect's flash filter (merge mode) does")
	fs.Float64Var(&scene.MaxLength, "scene-max-length-s", scene.MaxLength, "scene, transnetv2: cut longer scenes into pieces this long (0: no limit)")
	fs.Float64Var(&scene.MaxLength, "transnetv2-max-length-s", scene.MaxLength, "same as --scene-max-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.MinLength, "scene-min-length-s", scene.MinLength, "scene, transnetv2: drop clips shorter than this after cropping (0: keep all)")
	fs.Float64Var(&scene.MinLength, "transnetv2-min-length-s", scene.MinLength, "same as --scene-min-length-s (NeMo Curator's name)")
	fs.Float64Var(&scene.Crop, "scene-crop-s", scene.Crop, "scene, transnetv2: trim this much from both ends of every scene")
	fs.Float64Var(&scene.Crop, "transnetv2-crop-s", scene.Crop, "same as --scene-crop-s (NeMo Curator's name)")
	o.motion = fs.String("motion-filter", string(curate.MotionDisable), "motion score: disable, enable (move clips with too little motion to filtered_clips/) or score-only")
	thr := &cfg.MotionThresholds
	fs.Float64Var(&thr.GlobalMean, "motion-global-mean-threshold", thr.GlobalMean, "motion: a clip whose global mean is below this is filtered")
	fs.Float64Var(&thr.PerPatchMin256, "motion-per-patch-min-256-threshold", thr.PerPatchMin256, "motion: a clip whose per-patch minimum is below this is filtered")
	o.captions = captionFlags(fs)
	o.models = addModelFlags(fs)
	fs.IntVar(&cfg.Workers, "workers", 0, "parallel ffmpeg jobs (default: number of cores)")
	cfg.MinFree = fault.MinFreeDefault
	fs.Var(sizeValue{&cfg.MinFree}, "min-free", "stop (serve: pause) before the database's filesystem has less than this free, e.g. 1GiB, 500MB; 0: no guard (default: 1GiB, or 5% of the filesystem if less)")
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "probe, split and count only: record video and chunk metadata, no clips")
	fs.BoolVar(&cfg.NoUploadClips, "no-upload-clips", false, "transcode and score clips but keep no clip media")
	fs.BoolVar(&cfg.GeneratePreviews, "generate-previews", false, "write one WebP preview per window")
	fs.Int64Var(&cfg.Shards.TargetBytes, "shard-target-bytes", cfg.Shards.TargetBytes, "seal a WebDataset shard once its members reach this many bytes")
	fs.IntVar(&cfg.Shards.MaxSamples, "shard-max-samples", cfg.Shards.MaxSamples, "seal a WebDataset shard once it holds this many samples")
	return o
}

// config builds the run's configuration from the parsed flags, has curate
// validate it (its *curate.ConfigError is a usage error), finds ffmpeg and
// loads the models. The caller closes what it returns.
func (o *curateOptions) config(fs *flag.FlagSet, log *slog.Logger) (curate.Config, *curate.LoadedModels, error) {
	cfg := o.cfg
	cfg.Splitting, cfg.Motion = curate.Splitting(*o.splitting), curate.MotionMode(*o.motion)
	if !flagSet(fs, "fixed-stride-stride") {
		cfg.Stride.Stride = cfg.Stride.ClipLen // NeMo uses the split duration as the stride
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	var err error
	if cfg.Captions, err = o.captions.captioning(); err != nil {
		return cfg, nil, err
	}
	if o.tools, err = media.DefaultTools(); err != nil {
		return cfg, nil, err
	}
	cfg.Log = log
	models, err := curate.LoadModels(&cfg, o.models.options())
	if err != nil {
		return cfg, nil, err
	}
	return cfg, models, nil
}
