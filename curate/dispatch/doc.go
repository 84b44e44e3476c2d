// Package dispatch is the index owner's side of curation on many
// machines: clipfs serve hands each video to the workers as a job on the
// JetStream queue (curate/jobs) instead of curating it itself, commits the
// results they send back once each (curate.LocalSink.CommitOnce), confirms
// them, answers the workers' questions about stored videos, and keeps what
// their heartbeats say for status.
//
// Its Dispatcher is what the daemon (curate/daemon) curates a video
// through, so that the daemon's queue, retries and status stay as they are.
// It imports curate, curate/fault, curate/jobs and index; never the
// daemon or the worker.
package dispatch
