package curate

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/index"
)

// TestConfigValidate: zero values are the defaults; each bad setting is a
// *ConfigError naming its NeMo option (clipfs's flag), and Run refuses it
// before looking at the input folder.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"zero", func(c *Config) {}, ""},
		{"scene", func(c *Config) { c.Splitting, c.Motion = SplitScene, MotionScoreOnly }, ""},
		{"splitting", func(c *Config) { c.Splitting = "autoshot" }, `--splitting-algorithm "autoshot" is not one of fixed_stride, scene, transnetv2`},
		{"motion", func(c *Config) { c.Motion = "maybe" }, `--motion-filter "maybe" is not one of enable, disable, score-only`},
		{"stride", func(c *Config) { c.Stride = plan.StrideParams{ClipLen: 5, Stride: -1, MinClipLen: 1} }, "fixed stride: stride"},
		{"scene params", func(c *Config) { c.Scene = plan.DefaultSceneParams(); c.Scene.MaxLength = -1 }, "scene splitting: maximum clip length"},
		{"global mean", func(c *Config) { c.MotionThresholds.GlobalMean = -1 }, "--motion-global-mean-threshold must be a number >= 0"},
		{"per patch", func(c *Config) { c.MotionThresholds.PerPatchMin256 = math.NaN() }, "--motion-per-patch-min-256-threshold must be a number >= 0"},
		{"shard bytes", func(c *Config) { c.Shards = index.ShardLimits{TargetBytes: 0, MaxSamples: 10} }, "--shard-target-bytes and --shard-max-samples must be positive"},
		{"shard samples", func(c *Config) { c.Shards = index.ShardLimits{TargetBytes: 1 << 20, MaxSamples: -1} }, "--shard-target-bytes"},
		{"embedding model", func(c *Config) { c.Embedding = &Embedding{} }, "embeddings need a model"},
		{"aesthetic model", func(c *Config) { c.Aesthetics = &Aesthetics{} }, "aesthetic scores need"},
		{"caption model", func(c *Config) { c.Captions = &Captioning{} }, "captioning needs"},
	} {
		cfg := Config{Input: "/nonexistent/clipfs-input"}
		c.edit(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want valid", c.name, err)
			}
			continue
		}
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a *ConfigError saying %q", c.name, err, c.want)
		}
		if _, err := Run(t.Context(), nil, media.Tools{}, cfg); !errors.As(err, &ce) {
			t.Errorf("%s: Run: %v, want the *ConfigError before the missing input", c.name, err)
		}
	}
	var ce *ConfigError
	// transnetv2 is a valid setting, but a run needs the network LoadModels
	// loads.
	tn := Config{Input: "/nonexistent/clipfs-input", Splitting: SplitTransNetV2}
	if err := tn.Validate(); err != nil {
		t.Errorf("transnetv2: %v, want valid", err)
	}
	if _, err := Run(t.Context(), nil, media.Tools{}, tn); !errors.As(err, &ce) || !strings.Contains(err.Error(), "needs --transnetv2-model") {
		t.Errorf("transnetv2 without its network: Run: %v, want a *ConfigError naming --transnetv2-model", err)
	}
	for _, o := range []struct {
		split Splitting
		model string
		th    float64
		want  string
	}{
		{SplitTransNetV2, "", 0.4, "--splitting-algorithm transnetv2 needs --transnetv2-model PATH"},
		{SplitScene, "/x.pth", 0.4, "--transnetv2-model is for --splitting-algorithm transnetv2 (not scene)"},
		{"", "/x.pth", 0.4, "(not fixed_stride)"},
		{SplitTransNetV2, "/x.pth", 1.5, "--transnetv2-threshold 1.5 must be between 0 and 1"},
	} {
		opts := DefaultModelOptions()
		opts.TransNetV2Model, opts.TransNetV2Threshold = o.model, o.th
		cfg := Config{Splitting: o.split}
		if _, err := LoadModels(&cfg, opts); !errors.As(err, &ce) || !strings.Contains(err.Error(), o.want) {
			t.Errorf("LoadModels(%s, %q, %v): %v, want a *ConfigError saying %q", o.split, o.model, o.th, err, o.want)
		}
	}
	// A missing input folder is a failure of the run, not a setting.
	_, err := Run(t.Context(), nil, media.Tools{}, Config{Input: "/nonexistent/clipfs-input"})
	if err == nil || errors.As(err, &ce) {
		t.Errorf("Run with a missing input: %v, want a plain error", err)
	}
}
