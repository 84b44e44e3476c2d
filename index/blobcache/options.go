package blobcache

import (
	"log/slog"
	"time"
)

// Options tunes a Cache; a zero field takes its default (DefaultOptions).
type Options struct {
	// BlockSize is the unit a partial blob is cached in: 1 MiB.
	BlockSize int64
	// PartSize bounds one ranged read of the inner store: 8 MiB. A larger
	// range (a whole-blob Fetch, a read-ahead window) is read as several
	// parts at once.
	PartSize int64
	// MaxReadAhead caps the read-ahead window of a sequential reader: 64 MiB.
	MaxReadAhead int64
	// Parallel bounds the ranged reads in flight, over all blobs: 16.
	Parallel int
	// Timeout bounds one attempt at a ranged read or an open: 30 s.
	Timeout time.Duration
	// Attempts is how many times a failed read or open is tried in all: 3.
	// An inner store that retries itself may want 1 or 2.
	Attempts int
	// Backoff is the wait before the first retry, doubling after each: 100 ms.
	Backoff time.Duration
	// NoCopyOnPut keeps Put from keeping a copy of what it puts (a hard
	// link of the source, where the cache folder is on its filesystem).
	NoCopyOnPut bool
	// Log gets Debug lines per fetch and Warn lines for failures; nil is silent.
	Log *slog.Logger
}

// DefaultOptions is Options with every default filled in.
func DefaultOptions() Options {
	return Options{BlockSize: 1 << 20, PartSize: 8 << 20, MaxReadAhead: 64 << 20, Parallel: 16,
		Timeout: 30 * time.Second, Attempts: 3, Backoff: 100 * time.Millisecond}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.BlockSize <= 0 {
		o.BlockSize = d.BlockSize
	}
	if o.PartSize <= 0 {
		o.PartSize = d.PartSize
	}
	o.PartSize = max(o.BlockSize, o.PartSize/o.BlockSize*o.BlockSize)
	if o.MaxReadAhead <= 0 {
		o.MaxReadAhead = d.MaxReadAhead
	}
	if o.Parallel <= 0 {
		o.Parallel = d.Parallel
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	if o.Attempts <= 0 {
		o.Attempts = d.Attempts
	}
	if o.Backoff <= 0 {
		o.Backoff = d.Backoff
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}
