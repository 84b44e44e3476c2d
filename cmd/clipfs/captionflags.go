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

// captioning builds curate's Captioning from the flags: nil when no
// endpoint is given. The bearer token comes from $OPENAI_API_KEY.
func (o *captionOptions) captioning() (*curate.Captioning, error) {
	if o.endpoint == "" {
		if o.enhanceEndpoint != "" || o.model != "" || o.enhanceModel != "" {
			return nil, usageError{"--caption-model and --enhance-captions-endpoint need --captioning-endpoint"}
		}
		return nil, nil
	}
	if o.model == "" {
		return nil, usageError{"--captioning-endpoint needs --caption-model NAME"}
	}
	if o.frames <= 0 || o.maxSide < 16 || o.retries < 0 || o.inFlight <= 0 || o.tokens <= 0 || o.timeout <= 0 {
		return nil, usageError{"--caption-frames, --caption-max-in-flight, --caption-max-tokens and --caption-timeout must be positive, --caption-max-side at least 16, --caption-retries not negative"}
	}
	switch {
	case o.enhanceEndpoint == "" && o.enhanceModel != "":
		return nil, usageError{"--enhance-caption-model needs --enhance-captions-endpoint"}
	case o.enhanceEndpoint != "" && o.enhanceModel == "":
		return nil, usageError{"--enhance-captions-endpoint needs --enhance-caption-model NAME"}
	}
	cp, err := o.recipe().Captioning(os.Getenv(apiKeyEnv))
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return cp, nil
}

// recipe is the captioning flags as data, for jobs handed to workers; nil
// when no endpoint is given.
func (o *captionOptions) recipe() *curate.CaptionRecipe {
	if o.endpoint == "" {
		return nil
	}
	retries := o.retries
	if retries == 0 {
		retries = -1 // caption.Options: 0 is the default, negative none
	}
	return &curate.CaptionRecipe{Endpoint: o.endpoint, Model: o.model, Prompt: o.prompt, Frames: o.frames, MaxSide: o.maxSide,
		EnhanceEndpoint: o.enhanceEndpoint, EnhanceModel: o.enhanceModel, EnhancePrompt: o.enhancePrompt,
		Timeout: o.timeout, Retries: retries, MaxInFlight: o.inFlight, MaxTokens: o.tokens}
}
