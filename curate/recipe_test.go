package curate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clipfs/clipfs/curate/plan"
)

// A recipe survives JSON and gives a worker the owner's settings; one whose
// settings string this machine does not reach is refused as a ConfigError.
func TestRecipeRoundTrip(t *testing.T) {
	in := t.TempDir()
	owner := Config{Input: in, Splitting: SplitScene, Scene: plan.SceneParams{Threshold: 30, MinSceneLen: 10, MaxLength: 12, MinLength: 2, Crop: 0.5},
		Motion: MotionScoreOnly, GeneratePreviews: true, Workers: 2}
	captions := &CaptionRecipe{Endpoint: "http://127.0.0.1:9/v1", Model: "vlm", Frames: 4, MaxSide: 256, Timeout: time.Minute,
		Retries: 2, MaxInFlight: 2, MaxTokens: 64}
	var err error
	if owner.Captions, err = captions.Captioning(""); err != nil {
		t.Fatal(err)
	}
	rc := RecipeOf(owner, DefaultModelOptions(), captions)
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	var got Recipe
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	cfg, models, err := got.Config(in, Local{Workers: 1})
	if err != nil {
		t.Fatalf("the worker's config: %v", err)
	}
	models.Close()
	norm := owner
	if err := norm.normalise(); err != nil {
		t.Fatal(err)
	}
	if cfg.settings() != norm.settings() || !strings.Contains(rc.Settings, "caption=") {
		t.Errorf("settings differ:\n worker %s\n  owner %s", cfg.settings(), norm.settings())
	}
	got.Settings += " embed=clip/\"other weights\"/8"
	_, _, err = got.Config(in, Local{})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "rsync -t") {
		t.Errorf("a job with other settings: %v, want a ConfigError", err)
	}
	bad := *captions
	bad.Model = ""
	if err := bad.Validate(); !errors.As(err, &ce) {
		t.Errorf("captions without a model: %v", err)
	}
}
