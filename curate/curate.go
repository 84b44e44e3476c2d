package curate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/clipfs/clipfs/curate/caption"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
)

// VideoExtensions are the source containers curation picks up (docs/formats.md §1).
var VideoExtensions = []string{".mp4", ".mov", ".avi", ".mkv", ".webm"}

// Config is one curation run. The zero value of each optional field is
// NeMo Curator's default.
type Config struct {
	Input            string // root folder searched recursively
	Splitting        Splitting
	Stride           plan.StrideParams // for SplitFixedStride
	Scene            plan.SceneParams  // for SplitScene
	Motion           MotionMode
	MotionThresholds motion.Thresholds
	// Captions, if set, captions every window of every passed clip.
	Captions *Captioning
	// Aesthetics, if set, scores (and may filter) every clip not filtered by motion.
	Aesthetics *Aesthetics
	// Embedding, if set, embeds every passed clip.
	Embedding *Embedding
	Workers   int // parallel ffmpeg jobs; 0 = number of cores
	// MinFree is the free space the database's filesystem must keep:
	// below it curation stops (fault.ErrDiskFull) before any write can fail.
	// MinFreeDefault: 1 GiB or 5% of the filesystem if less; 0: no guard.
	MinFree          int64
	DryRun           bool // probe, split, count: video and chunk records only
	NoUploadClips    bool // transcode and score, but keep no clip media
	GeneratePreviews bool // one WebP per window
	// Shards say when the open WebDataset shard seals (0 = defaults).
	Shards index.ShardLimits
	// Sink, if set, receives the curated chunks instead of the database
	// (NewLocalSink over it, the default); the database is still where Run
	// publishes.
	Sink Sink
	// Log receives per-video lines (Info), per-clip lines (Debug) and data
	// problems (Warn); nil is silent.
	Log *slog.Logger
	// Progress, if set, is told of every finished clip and video.
	Progress *Progress
	// Observer, if set, is told how long each stage took and of each error
	// (clipfs serve's metrics).
	Observer Observer
}

// Splitting names how videos are cut into clips (NeMo's
// --splitting-algorithm).
type Splitting string

// The splitting algorithms.
const (
	SplitFixedStride Splitting = "fixed_stride" // plan.FixedStride, the default
	SplitScene       Splitting = "scene"        // at shot boundaries (DetectCuts, plan.SceneSpans)
)

// MotionMode says what is done with motion scores (NeMo's --motion-filter).
type MotionMode string

// The motion modes.
const (
	MotionDisable   MotionMode = "disable"    // no motion score (the default)
	MotionEnable    MotionMode = "enable"     // score, and move small-motion clips to filtered_clips/
	MotionScoreOnly MotionMode = "score-only" // score, filter nothing
)

// Captioning is how windows are captioned: frames sampled evenly from each
// window go to a vision-language model; an optional text model rewrites
// each caption into an enhanced one.
type Captioning struct {
	Model         *caption.Client // answers under <Model.Model()>_caption
	Prompt        string          // "" = caption.DefaultCaptionPrompt
	Frames        int             // frames per window; 0 = 8
	MaxSide       int             // longer side of a frame sent, in pixels; 0 = 512
	Enhance       *caption.Client // nil: no enhanced captions
	EnhancePrompt string          // "" = caption.DefaultEnhancePrompt
}

// Report is the outcome of a run.
type Report struct {
	Videos   int     // found under Input
	Curated  int     // curated (or completed) now
	UpToDate int     // skipped: already curated with the same file and settings
	Clips    int     // clips committed now
	Seconds  float64 // seconds of video in those clips
	Failed   []error // one per video that could not be curated (a *media.MediaError where the media was at fault)
	// Unfinished has one *fault.EnvError per video an environment failure left
	// unfinished (nothing of the chunk it hit committed): a re-run curates
	// what is left.
	Unfinished []error
	NotStarted int // videos not started because the disk was full
}

// ErrSomeFailed is returned (wrapped) when some videos failed and the rest
// were curated.
var ErrSomeFailed = errors.New("some videos could not be curated")

// Run curates every video under cfg.Input into db. Videos are independent:
// one that fails is reported in Report.Failed and the others go on. The
// error is ctx's when cancelled (chunks in hand are not committed), wraps
// ErrSomeFailed when some videos failed, and is nil otherwise.
func Run(ctx context.Context, db *index.DB, tools media.Tools, cfg Config) (Report, error) {
	if err := cfg.normalise(); err != nil {
		return Report{}, err
	}
	videos, walkErrs := Discover(cfg.Input)
	r := newRunner(db, tools, cfg)
	r.report.Videos = len(videos)
	for _, err := range walkErrs {
		r.fail(err)
	}
	if cfg.Progress != nil {
		cfg.Progress.start(videos)
	}
	var wg sync.WaitGroup
	videoSlots := make(chan struct{}, cfg.Workers)
	for i, v := range videos {
		if ctx.Err() != nil {
			break
		}
		videoSlots <- struct{}{}
		if r.diskFull.Load() { // stop taking videos; those in hand finish or abort
			<-videoSlots
			r.report.NotStarted = len(videos) - i
			break
		}
		wg.Go(func() {
			defer func() { <-videoSlots }()
			r.video(ctx, v)
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		// An unfinished run leaves the open shard open: the re-run that
		// finishes it seals the shard a clean run would have.
		finished := len(r.report.Unfinished) == 0 && r.report.NotStarted == 0
		_, errs := r.publish(ctx, finished, r.report.Curated > 0)
		for _, err := range errs {
			r.fail(err)
		}
	}
	if cfg.Progress != nil {
		cfg.Progress.finish()
	}
	rep := r.report
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if n := len(rep.Unfinished) + rep.NotStarted; n > 0 {
		return rep, fmt.Errorf("%d of %d: %w", n, rep.Videos, fault.ErrUnfinished)
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d of %d: %w", len(rep.Failed), rep.Videos, ErrSomeFailed)
	}
	return rep, nil
}

// newRunner prepares curation of videos into db, or cfg.Sink; cfg is
// normalised.
func newRunner(db *index.DB, tools media.Tools, cfg Config) *runner {
	sink := cfg.Sink
	if sink == nil {
		sink = NewLocalSink(db, cfg.MinFree, cfg.Shards)
	}
	return &runner{sink: sink, db: db, tools: tools, cfg: cfg, sem: make(chan struct{}, cfg.Workers), log: cfg.Log}
}

// publish finishes what readers see beyond the chunks: the open shard
// sealed (if seal), the md5 of every sealed shard filled in, and
// index.parquet rewritten when a shard sealed, changed is set or it is
// missing. It returns whether a shard sealed, and the failures.
func (r *runner) publish(ctx context.Context, seal, changed bool) (bool, []error) {
	if r.cfg.DryRun || r.db == nil {
		return false, nil
	}
	return publish.Update(ctx, r.db, seal, changed)
}

// normalise validates c (Validate) and its input folder, and fills in the
// defaults.
func (c *Config) normalise() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Input == "" {
		return errors.New("no input folder given (--input DIR)")
	}
	abs, err := absFolder("input", c.Input)
	if err != nil {
		return err
	}
	c.Input = abs
	if c.Splitting == "" {
		c.Splitting = SplitFixedStride
	}
	if c.Stride == (plan.StrideParams{}) {
		c.Stride = plan.DefaultStride()
	}
	if c.Scene == (plan.SceneParams{}) {
		c.Scene = plan.DefaultSceneParams()
	}
	if c.Motion == "" {
		c.Motion = MotionDisable
	}
	if c.MotionThresholds == (motion.Thresholds{}) {
		c.MotionThresholds = motion.DefaultThresholds()
	}
	if e := c.Embedding; e != nil {
		if e.Prefix == "" {
			e.Prefix = "clip"
		}
		if e.Frames <= 0 {
			e.Frames = 8
		}
	}
	if cp := c.Captions; cp != nil {
		if cp.Prompt == "" {
			cp.Prompt = caption.DefaultCaptionPrompt
		}
		if cp.EnhancePrompt == "" {
			cp.EnhancePrompt = caption.DefaultEnhancePrompt
		}
		if cp.Frames <= 0 {
			cp.Frames = 8
		}
		if cp.MaxSide <= 0 {
			cp.MaxSide = 512
		}
	}
	if c.Shards == (index.ShardLimits{}) {
		c.Shards = index.DefaultShardLimits()
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// absFolder makes path absolute and checks that it is an existing folder;
// what names it in the error ("input").
func absFolder(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, abs, errors.Unwrap(err))
	} else if !st.IsDir() {
		return "", fmt.Errorf("%s %s is not a folder", what, abs)
	}
	return abs, nil
}

// settings is the part of the configuration that changes what is curated:
// a video curated under other settings is curated again.
// Settings left at their defaults add nothing, so databases curated before a
// setting existed stay up to date.
func (c Config) settings() string {
	stride := c.Stride
	if c.Splitting == SplitScene {
		stride = plan.DefaultStride() // not used: changing it changes nothing
	}
	s := fmt.Sprintf("stride=%g/%g/%g dry=%t upload=%t previews=%t",
		stride.ClipLen, stride.Stride, stride.MinClipLen, c.DryRun, !c.NoUploadClips, c.GeneratePreviews)
	if c.Splitting == SplitScene {
		p := c.Scene
		s += fmt.Sprintf(" scene=%g/%d/%g/%g/%g", p.Threshold, p.MinSceneLen, p.MaxLength, p.MinLength, p.Crop)
	}
	switch c.Motion {
	case MotionEnable:
		s += fmt.Sprintf(" motion=%s/%g/%g", c.Motion, c.MotionThresholds.GlobalMean, c.MotionThresholds.PerPatchMin256)
	case MotionScoreOnly:
		s += " motion=" + string(c.Motion)
	}
	if a := c.Aesthetics; a != nil {
		s += fmt.Sprintf(" aesthetic=%q/%t", a.ModelID, a.Mean)
		if a.Threshold != nil {
			s += fmt.Sprintf("/%g", *a.Threshold)
		}
	}
	if e := c.Embedding; e != nil {
		s += fmt.Sprintf(" embed=%s/%q/%d", e.Prefix, e.ModelID, e.Frames)
	}
	if cp := c.Captions; cp != nil {
		s += fmt.Sprintf(" caption=%q/%q/%d/%d/%d", cp.Model.Model(), cp.Prompt, cp.Frames, cp.MaxSide, cp.Model.MaxTokens())
		if cp.Enhance != nil {
			s += fmt.Sprintf(" enhance=%q/%q/%d", cp.Enhance.Model(), cp.EnhancePrompt, cp.Enhance.MaxTokens())
		}
	}
	return s
}

// SourceVideo is a video found under the input root.
type SourceVideo struct {
	Path string // absolute
	Rel  string // below the input root
	Size int64
}

// Discover lists the videos under root (absolute), recursively, in path
// order. Folders that cannot be read are returned as errors; the walk goes on.
func Discover(root string) ([]SourceVideo, []error) {
	var out []SourceVideo
	var errs []error
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &media.MediaError{Path: p, Reason: "cannot read: " + errText(err), Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !slices.Contains(VideoExtensions, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		v := SourceVideo{Path: p, Rel: strings.TrimLeft(strings.TrimPrefix(p, root), "/")}
		if info, err := d.Info(); err == nil {
			v.Size = info.Size()
		}
		out = append(out, v)
		return nil
	})
	return out, errs
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
