package curate

import (
	"context"
	"time"

	"github.com/clipfs/clipfs/curate/caption"
	"github.com/clipfs/clipfs/curate/motion"
	"github.com/clipfs/clipfs/curate/plan"
)

// Recipe is what a Config says about the clips, as plain data (JSON): the
// part of the settings a job carries to a worker on another machine, which
// builds its own Config from it (Recipe.Config). Workers, the free-space
// guard, shards and the device models run on are each machine's own.
type Recipe struct {
	Splitting        Splitting         `json:"splitting"`
	Stride           plan.StrideParams `json:"stride"`
	Scene            plan.SceneParams  `json:"scene"`
	Motion           MotionMode        `json:"motion"`
	MotionThresholds motion.Thresholds `json:"motion_thresholds"`
	DryRun           bool              `json:"dry_run,omitempty"`
	NoUploadClips    bool              `json:"no_upload_clips,omitempty"`
	GeneratePreviews bool              `json:"generate_previews,omitempty"`
	// Models name the weights by path: every machine must see them there
	// (Device and Batch are ignored: the worker's own apply).
	Models   ModelOptions   `json:"models"`
	Captions *CaptionRecipe `json:"captions,omitempty"`
	// Settings is the settings part of the fingerprint the owner curates
	// with; a worker whose Config gives another refuses the job (its weights
	// differ, say), so that no clip is committed under settings the owner
	// did not ask for.
	Settings string `json:"settings"`
}

// CaptionRecipe is Captioning as plain data: endpoints and model names
// instead of clients. The bearer token is never in it; each machine reads
// its own.
type CaptionRecipe struct {
	Endpoint        string        `json:"endpoint"`
	Model           string        `json:"model"`
	Prompt          string        `json:"prompt,omitempty"`
	Frames          int           `json:"frames,omitempty"`
	MaxSide         int           `json:"max_side,omitempty"`
	EnhanceEndpoint string        `json:"enhance_endpoint,omitempty"`
	EnhanceModel    string        `json:"enhance_model,omitempty"`
	EnhancePrompt   string        `json:"enhance_prompt,omitempty"`
	Timeout         time.Duration `json:"timeout,omitempty"`
	Retries         int           `json:"retries,omitempty"` // of a failed request; 0: none
	MaxInFlight     int           `json:"max_in_flight,omitempty"`
	MaxTokens       int           `json:"max_tokens,omitempty"`
}

// Validate checks the recipe as its flags name it; every error is a
// *ConfigError. A nil recipe (no captions) is valid.
func (cr *CaptionRecipe) Validate() error {
	switch {
	case cr == nil:
		return nil
	case cr.Endpoint == "":
		return configErrorf("--caption-model and --enhance-captions-endpoint need --captioning-endpoint")
	case cr.Model == "":
		return configErrorf("--captioning-endpoint needs --caption-model NAME")
	case cr.Frames <= 0 || cr.MaxSide < 16 || cr.Retries < 0 || cr.MaxInFlight <= 0 || cr.MaxTokens <= 0 || cr.Timeout <= 0:
		return configErrorf("--caption-frames, --caption-max-in-flight, --caption-max-tokens and --caption-timeout must be positive, --caption-max-side at least 16, --caption-retries not negative")
	case cr.EnhanceEndpoint == "" && cr.EnhanceModel != "":
		return configErrorf("--enhance-caption-model needs --enhance-captions-endpoint")
	case cr.EnhanceEndpoint != "" && cr.EnhanceModel == "":
		return configErrorf("--enhance-captions-endpoint needs --enhance-caption-model NAME")
	}
	return nil
}

// Captioning checks the recipe (Validate) and makes the clients it names,
// sending apiKey (if any) as their bearer token.
func (cr *CaptionRecipe) Captioning(apiKey string) (*Captioning, error) {
	if err := cr.Validate(); err != nil || cr == nil {
		return nil, err
	}
	retries := cr.Retries
	if retries == 0 {
		retries = -1 // caption.Options: 0 is the default, negative none
	}
	opts := caption.Options{APIKey: apiKey, Timeout: cr.Timeout, Retries: retries, MaxInFlight: cr.MaxInFlight, MaxTokens: cr.MaxTokens}
	c, err := caption.New(cr.Endpoint, cr.Model, opts)
	if err != nil {
		return nil, configErrorf("--captioning-endpoint: %v", err)
	}
	cp := &Captioning{Model: c, Prompt: cr.Prompt, Frames: cr.Frames, MaxSide: cr.MaxSide, EnhancePrompt: cr.EnhancePrompt}
	if cr.EnhanceEndpoint != "" {
		if cp.Enhance, err = caption.New(cr.EnhanceEndpoint, cr.EnhanceModel, opts); err != nil {
			return nil, configErrorf("--enhance-captions-endpoint: %v", err)
		}
	}
	return cp, nil
}

// RecipeOf is the recipe of cfg, whose models were loaded from models and
// whose captions were made from captions; Settings is filled in from cfg
// with its defaults.
func RecipeOf(cfg Config, models ModelOptions, captions *CaptionRecipe) Recipe {
	norm := cfg
	norm.Input, norm.Bucket = "/", nil // settings do not depend on the input
	norm.fillDefaults()
	return Recipe{Splitting: norm.Splitting, Stride: norm.Stride, Scene: norm.Scene, Motion: norm.Motion,
		MotionThresholds: norm.MotionThresholds, DryRun: cfg.DryRun, NoUploadClips: cfg.NoUploadClips,
		GeneratePreviews: cfg.GeneratePreviews, Models: models, Captions: captions, Settings: norm.settings()}
}

// Local are a machine's own choices for running a Recipe.
type Local struct {
	Workers int    // parallel ffmpeg jobs; 0 = number of cores
	Device  string // where models run (ModelOptions.Device); "" = auto
	Batch   int    // frames per model call; 0 = the default
	MinFree int64  // as Config.MinFree, for the machine's scratch folder
	APIKey  string // bearer token of the caption endpoints
}

// Config is the configuration that curates as the recipe says, on this
// machine, with the input folder input; its models are loaded (close them
// after use). It fails with a *ConfigError when the settings this machine
// reaches differ from the recipe's (weights of other sizes or dates at the
// same paths, say).
func (rc Recipe) Config(input string, local Local) (Config, *LoadedModels, error) {
	cfg := Config{Input: input, Splitting: rc.Splitting, Stride: rc.Stride, Scene: rc.Scene, Motion: rc.Motion,
		MotionThresholds: rc.MotionThresholds, DryRun: rc.DryRun, NoUploadClips: rc.NoUploadClips,
		GeneratePreviews: rc.GeneratePreviews, Workers: local.Workers, MinFree: local.MinFree}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	var err error
	if cfg.Captions, err = rc.Captions.Captioning(local.APIKey); err != nil {
		return cfg, nil, err
	}
	models := rc.Models
	models.Device, models.Batch = local.Device, local.Batch
	def := DefaultModelOptions()
	if models.Device == "" {
		models.Device = def.Device
	}
	if models.Batch <= 0 {
		models.Batch = def.Batch
	}
	if models.EmbeddingAlgorithm == "" {
		models.EmbeddingAlgorithm = def.EmbeddingAlgorithm
	}
	if models.EmbeddingFrames <= 0 {
		models.EmbeddingFrames = def.EmbeddingFrames
	}
	if models.AestheticReduction == "" {
		models.AestheticReduction = def.AestheticReduction
	}
	if models.TransNetV2Threshold == 0 {
		models.TransNetV2Threshold = def.TransNetV2Threshold
	}
	loaded, err := LoadModels(&cfg, models)
	if err != nil {
		return cfg, nil, err
	}
	norm := cfg
	norm.Input = "/"
	norm.fillDefaults()
	if got := norm.settings(); got != rc.Settings {
		loaded.Close()
		return cfg, nil, configErrorf("this machine's settings differ from the job's: the model files must be at the same paths with the same sizes and modification times (copy them with rsync -t or cp -p):\n  job:  %s\n  here: %s", rc.Settings, got)
	}
	return cfg, loaded, nil
}

// Settings is the settings part of the fingerprint of every video the
// curator curates.
func (c *Curator) Settings() string { return c.r.cfg.settings() }

// Fingerprint is what the video at sv would be recorded with if curated
// now: its identity (size, mtime) and the settings. A video whose stored
// record has it, complete, is up to date.
func (c *Curator) Fingerprint(ctx context.Context, sv SourceVideo) (string, error) {
	st, err := c.r.stat(ctx, sv)
	if err != nil {
		return "", err
	}
	return st.identity + " " + c.r.cfg.settings(), nil
}

// UpToDate reports whether the index holds sv curated whole (or failed for
// good) under fingerprint.
func (c *Curator) UpToDate(sv SourceVideo, fingerprint string) bool {
	old, err := c.r.sink.Video(sv.Path)
	return err == nil && old.Fingerprint == fingerprint && old.Complete()
}
