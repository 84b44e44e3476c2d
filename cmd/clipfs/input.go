package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/clipfs/clipfs/curate"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/index/s3store"
)

// isBucketInput reports whether --input names object storage rather than
// a folder.
func isBucketInput(input string) bool { return strings.HasPrefix(input, "s3://") }

// openInput points cfg at the bucket folder --input s3://BUCKET/PREFIX/
// names, on the server and with the credentials of the environment (as
// --store); a folder needs nothing here. A server that cannot be reached
// leaves the run unfinished (a re-run does it); wrong keys or a missing
// bucket are one line.
func openInput(ctx context.Context, cfg *curate.Config, log *slog.Logger) error {
	if !isBucketInput(cfg.Input) {
		return nil
	}
	folder, err := s3store.OpenFolder(ctx, cfg.Input, s3store.Options{Logger: log})
	if err != nil {
		if errors.Is(err, s3store.ErrUnavailable) || fault.Environmental(err) {
			return unfinishedError{err}
		}
		return err
	}
	cfg.Bucket = folder
	return nil
}
