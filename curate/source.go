package curate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/media"
)

// Bucket is an input folder in object storage (s3://BUCKET/PREFIX/),
// declared here by its one user; cmd/clipfs passes an *s3store.Folder.
// Objects are named relative to the folder. A missing object is an error
// matching fs.ErrNotExist; any other error (a server that cannot be
// reached, refused credentials) is a fault of the machine, never the
// video's.
type Bucket interface {
	// URI is the object name's s3:// URI (the folder's with "").
	URI(name string) string
	// Walk calls fn for every object below the folder, at any depth.
	Walk(ctx context.Context, fn func(name string, size int64, mod time.Time, etag string) error) error
	// Stat is an object's size, time of last modification and ETag.
	Stat(ctx context.Context, name string) (size int64, mod time.Time, etag string, err error)
	// Presign is a URL that reads the object, ranges included, for expiry.
	Presign(ctx context.Context, name string, expiry time.Duration) (string, error)
}

// presignFor is how long a presigned URL handed to a tool stays valid:
// longer than any one ffmpeg run (scene detection of a long video decodes
// all of it), since a URL is presigned afresh for every run.
const presignFor = 6 * time.Hour

// isVideo reports whether name has one of VideoExtensions.
func isVideo(name string) bool {
	return slices.Contains(VideoExtensions, strings.ToLower(path.Ext(name)))
}

// DiscoverBucket lists the videos below b, at any depth, in key order:
// Path is each one's s3:// URI (what NeMo records as source_video), Rel its
// name below the folder, Size from the listing. A video whose key has no
// path in the tree (an empty, "." or ".." part: a//b.mp4) is not curated
// and is returned in skipped, as a *media.MediaError naming it. A listing
// that fails is an *fault.EnvError for the folder: nothing is known, and a
// re-run lists again.
func DiscoverBucket(ctx context.Context, b Bucket) (videos []SourceVideo, skipped []error, err error) {
	err = b.Walk(ctx, func(name string, size int64, _ time.Time, _ string) error {
		switch {
		case !isVideo(name):
		case !isTreePath(name):
			skipped = append(skipped, &media.MediaError{Path: b.URI(name),
				Reason: `not curated: its key has an empty, "." or ".." part, which has no path in the tree`})
		default:
			videos = append(videos, SourceVideo{Path: b.URI(name), Rel: name, Size: size})
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		return nil, nil, &fault.EnvError{Path: b.URI(""), Cause: "cannot list the videos: " + errText(err), Err: err}
	}
	return videos, skipped, nil
}

// isTreePath reports whether name is a slash-separated path of non-empty
// parts, none "." or "..".
func isTreePath(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// sourceState is what curation knows of a video's bytes when it starts:
// their size and the identity that goes in the fingerprint, so that a
// video replaced since it was curated is curated again.
type sourceState struct {
	size     int64
	mtime    time.Time
	etag     string // an object's, which its reads are pinned to
	identity string // "size=N mtime=NS" of a file, "size=N etag=E mtime=S" of an object
}

// stat is the state of sv now: a file's by stat, an object's by a HEAD.
func (r *runner) stat(ctx context.Context, sv SourceVideo) (sourceState, error) {
	if r.cfg.Bucket == nil {
		st, err := os.Stat(sv.Path)
		if err != nil {
			return sourceState{}, media.FileError(sv.Path, err)
		}
		return sourceState{size: st.Size(), mtime: st.ModTime(),
			identity: fmt.Sprintf("size=%d mtime=%d", st.Size(), st.ModTime().UnixNano())}, nil
	}
	size, mod, etag, err := r.cfg.Bucket.Stat(ctx, sv.Rel)
	if err != nil {
		return sourceState{}, bucketError(ctx, sv, err)
	}
	return sourceState{size: size, mtime: mod, etag: etag,
		identity: fmt.Sprintf("size=%d etag=%s mtime=%d", size, etag, mod.Unix())}, nil
}

// source is sv, as st found it, for the tools to read: the file, or the
// object through a URL presigned now (one per tool run, so that none
// expires mid-run), its reads pinned to st's ETag (an object replaced
// since is a fault of the run, not mixed in).
func (r *runner) source(ctx context.Context, sv SourceVideo, st sourceState) (media.Source, error) {
	if r.cfg.Bucket == nil {
		return media.File(sv.Path), nil
	}
	u, err := r.cfg.Bucket.Presign(ctx, sv.Rel, presignFor)
	if err != nil {
		return media.Source{}, bucketError(ctx, sv, err)
	}
	return media.Source{Name: sv.Path, URL: u, Size: st.size, ETag: st.etag}, nil
}

// bucketError is a failure to reach an object: a missing one is the
// input's (as a missing file), anything else the machine's.
func bucketError(ctx context.Context, sv SourceVideo, err error) error {
	switch {
	case ctx.Err() != nil:
		return err
	case errors.Is(err, fs.ErrNotExist):
		return &media.MediaError{Path: sv.Path, Reason: "no such object", Err: err}
	}
	return &fault.EnvError{Path: sv.Path, Cause: errText(err), Err: err}
}
