// Package caption asks a vision-language model to caption video windows and
// a text model to enhance captions (docs/formats.md §6 "Captions"), through any
// OpenAI-compatible chat-completions endpoint: vLLM, SGLang, Ollama, the
// llama.cpp server, OpenAI itself.
//
// A Client sends one POST per question to ".../chat/completions" with
// temperature 0: Describe puts the prompt and the window's JPEG frames (as
// data: URLs) in one user message, Rewrite sends a system instruction and a
// user text. Requests that fail for a passing reason (network errors,
// timeouts, HTTP 408, 429 and 5xx) are retried with doubling, jittered
// backoff, honouring Retry-After; every other failure is final at once.
//
// Invariants:
//   - Standard library only; imports nothing else of clipfs, so curate
//     (and only curate) depends on it.
//   - A Client is safe for concurrent use and never has more than
//     Options.MaxInFlight requests in flight, however many goroutines call it.
//   - Cancelling the caller's context ends a call at once, in flight or
//     during backoff, with the context's error (errors.Is works).
//   - Errors are one human line naming the endpoint without user info or
//     query ("caption endpoint http://host/v1/chat/completions: HTTP 503:
//     ..."); the API key is never logged nor put in an error, even when the
//     server echoes it.
package caption
