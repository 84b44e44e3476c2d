package curate

import (
	"fmt"

	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

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
	case "", SplitFixedStride, SplitScene:
	default:
		return configErrorf("--splitting-algorithm %q is not one of %s, %s", c.Splitting, SplitFixedStride, SplitScene)
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
