package curate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
)

// VideoExtensions are the source containers curation picks up (docs/formats.md §1).
var VideoExtensions = []string{".mp4", ".mov", ".avi", ".mkv", ".webm"}

// Report is the outcome of a run.
type Report struct {
	Videos   int     // found under Input
	Curated  int     // curated (or completed) now
	UpToDate int     // skipped: already curated with the same file and settings
	Clips    int     // clips committed now
	Seconds  float64 // seconds of video in those clips
	Failed   []error // one per video that could not be curated (a *media.MediaError where the media was at fault)
	// Unfinished has one *fault.EnvError per video an environment failure left
	// unfinished (nothing of the chunk it hit committed): a re-run curates
	// what is left.
	Unfinished []error
	NotStarted int // videos not started because the disk was full
}

// ErrSomeFailed is returned (wrapped) when some videos failed and the rest
// were curated.
var ErrSomeFailed = errors.New("some videos could not be curated")

// Run curates every video under cfg.Input (or cfg.Bucket) into db. Videos are independent:
// one that fails is reported in Report.Failed and the others go on. The
// error is ctx's when cancelled (chunks in hand are not committed), wraps
// ErrSomeFailed when some videos failed, and is nil otherwise.
func Run(ctx context.Context, db *index.DB, tools media.Tools, cfg Config) (Report, error) {
	if err := cfg.normalise(); err != nil {
		return Report{}, err
	}
	var videos []SourceVideo
	var walkErrs []error
	if cfg.Bucket != nil {
		var err error
		if videos, walkErrs, err = DiscoverBucket(ctx, cfg.Bucket); err != nil {
			return Report{}, err
		}
	} else {
		videos, walkErrs = Discover(cfg.Input)
	}
	r := newRunner(db, tools, cfg)
	r.report.Videos = len(videos)
	for _, err := range walkErrs {
		r.fail(err)
	}
	if cfg.Progress != nil {
		cfg.Progress.start(videos)
	}
	var wg sync.WaitGroup
	videoSlots := make(chan struct{}, cfg.Workers)
	for i, v := range videos {
		if ctx.Err() != nil {
			break
		}
		videoSlots <- struct{}{}
		if r.diskFull.Load() { // stop taking videos; those in hand finish or abort
			<-videoSlots
			r.report.NotStarted = len(videos) - i
			break
		}
		wg.Go(func() {
			defer func() { <-videoSlots }()
			r.video(ctx, v)
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		// An unfinished run leaves the open shard open: the re-run that
		// finishes it seals the shard a clean run would have.
		finished := len(r.report.Unfinished) == 0 && r.report.NotStarted == 0
		_, errs := r.publish(ctx, finished, r.report.Curated > 0)
		for _, err := range errs {
			r.fail(err)
		}
	}
	if cfg.Progress != nil {
		cfg.Progress.finish()
	}
	rep := r.report
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if n := len(rep.Unfinished) + rep.NotStarted; n > 0 {
		return rep, fmt.Errorf("%d of %d: %w", n, rep.Videos, fault.ErrUnfinished)
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d of %d: %w", len(rep.Failed), rep.Videos, ErrSomeFailed)
	}
	return rep, nil
}

// newRunner prepares curation of videos into db, or cfg.Sink; cfg is
// normalised.
func newRunner(db *index.DB, tools media.Tools, cfg Config) *runner {
	sink := cfg.Sink
	if sink == nil {
		sink = NewLocalSink(db, cfg.MinFree, cfg.Shards)
	}
	return &runner{sink: sink, db: db, tools: tools, cfg: cfg, sem: make(chan struct{}, cfg.Workers), log: cfg.Log}
}

// publish finishes what readers see beyond the chunks: the open shard
// sealed (if seal), the md5 of every sealed shard filled in, and
// index.parquet rewritten when a shard sealed, changed is set or it is
// missing. It returns whether a shard sealed, and the failures.
func (r *runner) publish(ctx context.Context, seal, changed bool) (bool, []error) {
	if r.cfg.DryRun || r.db == nil {
		return false, nil
	}
	return publish.Update(ctx, r.db, seal, changed)
}

// SourceVideo is a video found under the input root.
type SourceVideo struct {
	Path string // absolute; an object's s3:// URI (Config.Bucket)
	Rel  string // below the input root (an object's name below the folder)
	Size int64
}

// Discover lists the videos under root (absolute), recursively, in path
// order. Folders that cannot be read are returned as errors; the walk goes on.
func Discover(root string) ([]SourceVideo, []error) {
	var out []SourceVideo
	var errs []error
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &media.MediaError{Path: p, Reason: "cannot read: " + errText(err), Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !slices.Contains(VideoExtensions, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		v := SourceVideo{Path: p, Rel: strings.TrimLeft(strings.TrimPrefix(p, root), "/")}
		if info, err := d.Info(); err == nil {
			v.Size = info.Size()
		}
		out = append(out, v)
		return nil
	})
	return out, errs
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
