package curate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipfs/clipfs/curate/media"
	"github.com/clipfs/clipfs/index"
)

// Curator curates videos one by one, for callers that find the videos
// themselves (clipfs serve watches a folder). Run is a Curator over every
// video of a folder. Its methods are safe for concurrent use; each Video
// call runs its clips on the shared ffmpeg slots (Config.Workers).
type Curator struct {
	r *runner
}

// NewCurator checks cfg and prepares curation into db.
func NewCurator(db *index.DB, tools media.Tools, cfg Config) (*Curator, error) {
	if cfg.Bucket != nil {
		return nil, configErrorf("a Curator follows a folder; a bucket (%s) is curated by Run", cfg.Bucket.URI(""))
	}
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	r := newRunner(db, tools, cfg)
	r.unreported = true
	return &Curator{r: r}, nil
}

// Input is the folder videos are named relative to (absolute).
func (c *Curator) Input() string { return c.r.cfg.Input }

// Workers is the number of ffmpeg jobs that run at once.
func (c *Curator) Workers() int { return c.r.cfg.Workers }

// Under reports whether path (absolute) is the input folder or below it.
func (c *Curator) Under(path string) bool {
	rel, err := filepath.Rel(c.r.cfg.Input, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// Source names the video at path for Video: it must be a regular file with
// a video extension under the input folder.
func (c *Curator) Source(path string) (SourceVideo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return SourceVideo{}, fmt.Errorf("%s: %w", path, err)
	}
	rel, err := filepath.Rel(c.r.cfg.Input, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return SourceVideo{}, fmt.Errorf("%s: not under the input folder %s", abs, c.r.cfg.Input)
	}
	if !slices.Contains(VideoExtensions, strings.ToLower(filepath.Ext(abs))) {
		return SourceVideo{}, fmt.Errorf("%s: not a video (extensions %s)", abs, strings.Join(VideoExtensions, " "))
	}
	st, err := os.Lstat(abs)
	if err != nil {
		return SourceVideo{}, media.FileError(abs, err)
	}
	if !st.Mode().IsRegular() { // symlinks too: they could reach files outside the input
		return SourceVideo{}, fmt.Errorf("%s: not a regular file", abs)
	}
	return SourceVideo{Path: abs, Rel: filepath.ToSlash(rel), Size: st.Size()}, nil
}

// Room reports whether the database's filesystem has the free space
// Config.MinFree asks for: nil, or an error wrapping fault.ErrDiskFull.
func (c *Curator) Room() error { return c.r.sink.Room() }

// Video curates one video: it is skipped when up to date, resumed where an
// earlier run stopped, or curated again when the file or settings changed.
// A failure is logged (one line) and returned; chunks committed before it
// stay. An environment failure (curate/fault) is returned as an *fault.EnvError:
// the video is not finished, and trying it again later finishes it. Cancelling ctx abandons the chunks in hand (nothing of them is
// committed).
func (c *Curator) Video(ctx context.Context, sv SourceVideo) (Outcome, error) {
	return c.r.video(ctx, sv)
}

// Publish seals the open shard if seal is set, fills in the md5 of sealed
// shards and rewrites index.parquet if changed (clips were committed since
// the last Publish), a shard sealed or it is missing. It returns whether a
// shard sealed; failures are logged and returned.
func (c *Curator) Publish(ctx context.Context, seal, changed bool) (bool, error) {
	sealed, errs := c.r.publish(ctx, seal, changed)
	for _, err := range errs {
		c.r.log.Warn(err.Error())
	}
	return sealed, errors.Join(errs...)
}
