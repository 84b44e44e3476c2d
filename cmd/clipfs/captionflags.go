package main

import (
	"flag"
	"os"
	"time"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/caption"
)

// apiKeyEnv names the variable holding the bearer token sent to caption
// endpoints (a flag would show it in ps).
const apiKeyEnv = "OPENAI_API_KEY"

// captionOptions are curate's captioning flags.
type captionOptions struct {
	endpoint, model, prompt                      string
	enhanceEndpoint, enhanceModel, enhancePrompt string
	frames, maxSide, retries, inFlight, tokens   int
	timeout                                      time.Duration
}

func captionFlags(fs *flag.FlagSet) *captionOptions {
	o := &captionOptions{}
	fs.StringVar(&o.endpoint, "captioning-endpoint", "", "OpenAI-compatible chat-completions URL of a vision-language model (e.g. http://localhost:8000/v1); captions every window")
	fs.StringVar(&o.model, "caption-model", "", "model name sent to the captioning endpoint; captions are stored under <NAME>_caption")
	fs.StringVar(&o.prompt, "captioning-prompt-text", caption.DefaultCaptionPrompt, "prompt sent with each window's frames")
	fs.IntVar(&o.frames, "caption-frames", 8, "frames per window sent to the model, evenly spaced")
	fs.IntVar(&o.maxSide, "caption-max-side", 512, "longer side of the frames sent, in pixels")
	fs.StringVar(&o.enhanceEndpoint, "enhance-captions-endpoint", "", "OpenAI-compatible chat-completions URL of a text model that rewrites each caption")
	fs.StringVar(&o.enhanceModel, "enhance-caption-model", "", "model name sent to the enhancement endpoint; stored under <NAME>_enhanced_caption")
	fs.StringVar(&o.enhancePrompt, "enhance-captions-prompt-text", caption.DefaultEnhancePrompt, "instruction given to the enhancement model")
	fs.DurationVar(&o.timeout, "caption-timeout", 2*time.Minute, "time limit of one request to a caption endpoint")
	fs.IntVar(&o.retries, "caption-retries", 3, "retries of a failed caption request (network errors, 408, 429, 5xx), with backoff")
	fs.IntVar(&o.inFlight, "caption-max-in-flight", 4, "caption requests in flight at once, per endpoint")
	fs.IntVar(&o.tokens, "caption-max-tokens", 512, "max_tokens of each caption request")
	return o
}

// captioning builds curate's Captioning from the flags (curate checks
// them): nil when no caption flag is given. The bearer token comes from
// $OPENAI_API_KEY.
func (o *captionOptions) captioning() (*curate.Captioning, error) {
	return o.recipe().Captioning(os.Getenv(apiKeyEnv))
}

// recipe is the captioning flags as data, for jobs handed to workers; nil
// when neither an endpoint nor a model is given.
func (o *captionOptions) recipe() *curate.CaptionRecipe {
	if o.endpoint == "" && o.enhanceEndpoint == "" && o.model == "" && o.enhanceModel == "" {
		return nil
	}
	return &curate.CaptionRecipe{Endpoint: o.endpoint, Model: o.model, Prompt: o.prompt, Frames: o.frames, MaxSide: o.maxSide,
		EnhanceEndpoint: o.enhanceEndpoint, EnhanceModel: o.enhanceModel, EnhancePrompt: o.enhancePrompt,
		Timeout: o.timeout, Retries: o.retries, MaxInFlight: o.inFlight, MaxTokens: o.tokens}
}
