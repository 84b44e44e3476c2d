package jobs

import (
	"time"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/index"
)

// Job is one video to curate, as the owner publishes it.
type Job struct {
	// ID is the message ID JetStream deduplicates by: the video's source,
	// its fingerprint and, for a retry the owner starts, the attempt.
	ID          string        `json:"id"`
	Source      string        `json:"source"` // absolute path every machine sees
	Rel         string        `json:"rel"`    // below Input
	Input       string        `json:"input"`  // the input root (absolute)
	Size        int64         `json:"size"`
	Fingerprint string        `json:"fingerprint"`
	Recipe      curate.Recipe `json:"recipe"`
	// Store is where a worker puts the blobs it makes: the owner's object
	// store (s3://BUCKET/PREFIX) or its blobs folder (file:///PATH).
	Store     string    `json:"store"`
	Published time.Time `json:"published"`
}

// Kinds of Result.
const (
	// KindChunk carries one chunk's records and the blobs it put into the
	// store (or a video too short for a chunk).
	KindChunk = "chunk"
	// KindDone says the job finished: every chunk was confirmed.
	KindDone = "done"
	// KindFailed says the video failed on the job's last delivery for a
	// reason of its own (an input failure); the owner records it.
	KindFailed = "failed"
	// KindAttempt reports an input failure on a delivery that is not the
	// last; the job is retried, and the reason kept for status.
	KindAttempt = "attempt"
	// KindUnfinished says a fault of the environment stopped the job on
	// its last delivery; the owner retries it later as a new job.
	KindUnfinished = "unfinished"
)

// Result is what a worker sends to the owner's results stream.
type Result struct {
	ID     string `json:"id"`  // this result, for its Confirm
	Job    string `json:"job"` // Job.ID
	Source string `json:"source"`
	Rel    string `json:"rel"`
	// Fingerprint is the job's: what the video is curated under.
	Fingerprint string `json:"fingerprint"`
	Kind        string `json:"kind"`
	Worker      string `json:"worker"`
	// Reply is the subject the owner sends the Confirm to (the worker's
	// inbox); a worker gone by then misses it, and its job is redelivered.
	Reply string `json:"reply"`
	// Chunk is KindChunk's result, its blobs already in the store.
	Chunk *curate.ChunkResult `json:"chunk,omitempty"`
	// Outcome is KindDone's.
	Outcome *curate.Outcome `json:"outcome,omitempty"`
	// Reason is KindFailed's, KindAttempt's and KindUnfinished's.
	Reason    string `json:"reason,omitempty"`
	Delivered int    `json:"delivered,omitempty"` // the delivery it is about
	// Took is how long the worker spent curating the job (KindDone), in
	// seconds, without putting blobs and shipping results: the owner's
	// publish-to-done time less this is what the queue costs.
	Took float64 `json:"took,omitempty"`
}

// Confirm is the owner's answer to a Result.
type Confirm struct {
	ID string `json:"id"` // Result.ID
	// Committed says the result was committed now; false with no Error: it
	// had been committed before (a result sent twice).
	Committed bool `json:"committed"`
	// Error is why the owner could not take the result; the worker gives
	// the job back, and a redelivery curates what is missing.
	Error string `json:"error,omitempty"`
	// Stale says the job was queued under settings the owner no longer
	// curates with: the worker drops it (term), it is not retried.
	Stale bool `json:"stale,omitempty"`
}

// VideoState answers a worker's question for a video's stored record (its
// sink's up-to-date and resume checks).
type VideoState struct {
	Video *index.VideoRecord `json:"video,omitempty"` // nil: none stored
	Error string             `json:"error,omitempty"`
}

// Heartbeat is what a worker says of itself every few seconds.
type Heartbeat struct {
	Name    string    `json:"name"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Device  string    `json:"device"`  // where its models run
	Workers int       `json:"workers"` // ffmpeg slots
	Started time.Time `json:"started"`
	Sent    time.Time `json:"sent"`
	// Jobs are the videos in hand.
	Jobs           []string `json:"jobs"`
	Clips          int      `json:"clips"`    // committed since it started
	Finished       int      `json:"finished"` // jobs acked since it started
	ClipsPerMinute float64  `json:"clips_per_minute"`
	Stopping       bool     `json:"stopping,omitempty"`
}
