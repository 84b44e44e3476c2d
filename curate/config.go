package curate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/clipfs/clipfs/curate/caption"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// Config is one curation run. The zero value of each optional field is
// NeMo Curator's default.
type Config struct {
	Input string // root folder searched recursively
	// Bucket, if set, is the input instead of a folder: the videos below
	// an s3://BUCKET/PREFIX/ (Input is then its URI). ffmpeg reads each
	// through presigned URLs, seeking with range requests.
	Bucket    Bucket
	Splitting Splitting
	Stride    plan.StrideParams // for SplitFixedStride
	Scene     plan.SceneParams  // for SplitScene and SplitTransNetV2 (MaxLength, MinLength, Crop)
	// TransNet is the loaded network SplitTransNetV2 runs (LoadModels sets it).
	TransNet         *TransNetSplit
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
	SplitTransNetV2  Splitting = "transnetv2"   // at TransNetV2's transitions (Config.TransNet), NeMo's default
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

// ConfigError is a setting of a run that cannot work: an unknown
// algorithm or mode, a number out of range, a model or endpoint missing.
// Its message names the setting as NeMo Curator's option does
// (--splitting-algorithm), which is also clipfs's flag; the fields of
// Config and ModelOptions map to those options one to one. Callers tell
// it apart from a failure of the run with errors.As.
type ConfigError struct {
	Msg string
}

func (e *ConfigError) Error() string { return e.Msg }

// configErrorf makes a *ConfigError.
func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the settings of c without touching the filesystem (the
// input folder is checked when the run starts) or changing c: zero values
// stand for the defaults. Every error is a *ConfigError.
func (c Config) Validate() error {
	switch c.Splitting {
	case "", SplitFixedStride, SplitScene, SplitTransNetV2:
	default:
		return configErrorf("--splitting-algorithm %q is not one of %s, %s, %s", c.Splitting, SplitFixedStride, SplitScene, SplitTransNetV2)
	}
	if c.Stride != (plan.StrideParams{}) {
		if err := c.Stride.Validate(); err != nil {
			return &ConfigError{Msg: err.Error()}
		}
	}
	if c.Scene != (plan.SceneParams{}) {
		if err := c.Scene.Validate(); err != nil {
			return &ConfigError{Msg: err.Error()}
		}
	}
	switch c.Motion {
	case "", MotionDisable, MotionEnable, MotionScoreOnly:
	default:
		return configErrorf("--motion-filter %q is not one of %s, %s, %s", c.Motion, MotionEnable, MotionDisable, MotionScoreOnly)
	}
	for _, t := range []struct {
		option string
		value  float64
	}{
		{"motion-global-mean-threshold", c.MotionThresholds.GlobalMean},
		{"motion-per-patch-min-256-threshold", c.MotionThresholds.PerPatchMin256},
	} {
		if !(t.value >= 0) {
			return configErrorf("--%s must be a number >= 0, got %v", t.option, t.value)
		}
	}
	if c.Shards != (index.ShardLimits{}) && (c.Shards.TargetBytes <= 0 || c.Shards.MaxSamples <= 0) {
		return configErrorf("--shard-target-bytes and --shard-max-samples must be positive")
	}
	return c.validateModels()
}

// validateModels checks that each step asked for has what it runs on.
func (c Config) validateModels() error {
	if e := c.Embedding; e != nil && e.Model == nil {
		return configErrorf("embeddings need a model (--embedding-model)")
	}
	if a := c.Aesthetics; a != nil && (a.Model == nil || a.Predictor == nil) {
		return configErrorf("aesthetic scores need a CLIP model and a predictor (--aesthetic-model)")
	}
	if cp := c.Captions; cp != nil && cp.Model == nil {
		return configErrorf("captioning needs a model endpoint (--captioning-endpoint)")
	}
	return nil
}

// normalise validates c (Validate) and its input folder, and fills in the
// defaults.
func (c *Config) normalise() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Splitting == SplitTransNetV2 && c.TransNet == nil {
		return configErrorf("--splitting-algorithm transnetv2 needs --transnetv2-model PATH (NeMo's transnetv2-pytorch-weights.pth)")
	}
	if c.Bucket != nil {
		c.Input = c.Bucket.URI("")
	} else if c.Input == "" {
		return errors.New("no input folder given (--input DIR)")
	} else {
		abs, err := absFolder("input", c.Input)
		if err != nil {
			return err
		}
		c.Input = abs
	}
	c.fillDefaults()
	return nil
}

// fillDefaults sets the zero fields of c that have a default.
func (c *Config) fillDefaults() {
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
	if c.Splitting != SplitFixedStride {
		stride = plan.DefaultStride() // not used: changing it changes nothing
	}
	s := fmt.Sprintf("stride=%g/%g/%g dry=%t upload=%t previews=%t",
		stride.ClipLen, stride.Stride, stride.MinClipLen, c.DryRun, !c.NoUploadClips, c.GeneratePreviews)
	switch c.Splitting {
	case SplitScene:
		p := c.Scene
		s += fmt.Sprintf(" scene=%g/%d/%g/%g/%g", p.Threshold, p.MinSceneLen, p.MaxLength, p.MinLength, p.Crop)
	case SplitTransNetV2:
		p, model, th := c.Scene, "?", 0.0
		if c.TransNet != nil {
			model, th = c.TransNet.ModelID, c.TransNet.Threshold
		}
		s += fmt.Sprintf(" transnetv2=%q/%g/%g/%g/%g", model, th, p.MaxLength, p.MinLength, p.Crop)
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
