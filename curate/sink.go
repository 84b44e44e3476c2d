package curate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/index"
)

// Sink is where curation's results go, declared here by its one user.
// Committing a ChunkResult is curation's only write path; the up-to-date
// and resume checks read through Video. The index on this machine is the
// first Sink (LocalSink); a worker on another machine ships its results to
// the index owner instead.
type Sink interface {
	// Video is the stored record of the video at source, or an error
	// wrapping index.ErrNotFound.
	Video(source string) (index.VideoRecord, error)
	// Stage is a fresh path, ending in ext, for a tool to write a future
	// blob into (the file is not created).
	Stage(ext string) string
	// Room fails, wrapping fault.ErrDiskFull, when the space for staged
	// files and commits is below the guard (Config.MinFree).
	Room() error
	// Commit makes res durable and visible as one unit: its staged files
	// become blobs, and its records are committed. On failure nothing of
	// res is visible; the staged files are left for the caller to discard.
	// Curation calls it from several goroutines at once (one per video in
	// flight); an implementation must be safe for that.
	Commit(ctx context.Context, res *ChunkResult) error
}

// LocalSink commits into the index on this machine: files are staged in
// the database's tmp folder, on the filesystem of its blobs, so that
// adopting one is a rename.
type LocalSink struct {
	db      *index.DB
	minFree int64
	limits  index.ShardLimits
}

// NewLocalSink commits into db, keeping minFree bytes free (as
// Config.MinFree) and sealing shards at limits (zero: the defaults).
func NewLocalSink(db *index.DB, minFree int64, limits index.ShardLimits) *LocalSink {
	if limits == (index.ShardLimits{}) {
		limits = index.DefaultShardLimits()
	}
	return &LocalSink{db: db, minFree: minFree, limits: limits}
}

func (s *LocalSink) Video(source string) (index.VideoRecord, error) { return s.db.Video(source) }

func (s *LocalSink) Stage(ext string) string { return s.db.TempPath(ext) }

func (s *LocalSink) Room() error {
	sp, err := s.db.Space()
	if err != nil {
		return err
	}
	return fault.CheckRoom(sp.Free, sp.Total, s.db.Dir(), s.minFree)
}

// Commit adopts res's staged files (checking each against its size and
// digest) and commits its records in one transaction. A failure after
// some files were adopted removes them again; a file that cannot be
// adopted is a fault of the machine (an *fault.EnvError), never the clip's.
func (s *LocalSink) Commit(ctx context.Context, res *ChunkResult) error {
	if res.Chunk == nil {
		return s.db.CommitVideo(res.Video)
	}
	if err := s.Room(); err != nil {
		return err
	}
	adopted, err := s.adoptAll(ctx, res)
	if err != nil {
		return err
	}
	cc := index.ChunkCommit{Video: res.Video, Chunk: *res.Chunk, Clips: res.Clips,
		Embeddings: res.Embeddings, Samples: res.Samples, Limits: s.limits}
	if err := s.db.CommitChunk(cc); err != nil {
		for _, name := range adopted {
			s.db.DiscardBlob(name)
		}
		return err
	}
	return nil
}

// adopting is how many staged files of a chunk are adopted at once: a
// store in object storage uploads each, and one at a time would leave the
// link idle between requests.
const adopting = 4

// adoptAll adopts res's staged files, adopting at a time. On failure the
// files adopted so far are discarded and the error is the first one, as an
// *fault.EnvError for the video.
func (s *LocalSink) adoptAll(ctx context.Context, res *ChunkResult) ([]string, error) {
	var (
		mu       sync.Mutex
		adopted  []string
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, adopting)
	)
	for _, sb := range res.Blobs {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			mu.Lock()
			failed := firstErr != nil
			mu.Unlock()
			if failed {
				return
			}
			err := ctx.Err()
			var b index.Blob
			if err == nil {
				b, err = s.adopt(ctx, sb)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = storeFailed(res.Video.Source, err)
			} else if err == nil {
				adopted = append(adopted, b.Name)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		for _, name := range adopted {
			s.db.DiscardBlob(name)
		}
		return nil, firstErr
	}
	return adopted, nil
}

// adopt makes one staged file a blob under its name; one already in the
// store (StagedBlob.Stored) is checked there and adopted with its digests.
func (s *LocalSink) adopt(ctx context.Context, sb StagedBlob) (index.Blob, error) {
	if sb.Stored {
		b := sb.Blob()
		return b, s.db.AdoptStored(ctx, b)
	}
	if tmp := s.db.TempPath(""); filepath.Dir(sb.Path) != filepath.Dir(tmp) || filepath.Base(sb.Path) != sb.Name {
		return index.Blob{}, fmt.Errorf("staged blob %s: %s is not in the database's tmp folder under its name", sb.Name, sb.Path)
	}
	b, err := s.db.AdoptBlob(sb.Path)
	if err != nil {
		return b, err
	}
	if b.Size != sb.Size || b.SHA256 != sb.SHA256 {
		s.db.DiscardBlob(b.Name)
		return index.Blob{}, fmt.Errorf("staged blob %s changed after it was staged: %d bytes, sha256 %x; staged %d bytes, %x",
			sb.Path, b.Size, b.SHA256, sb.Size, sb.SHA256)
	}
	return b, nil
}

// CommitOnce commits res unless the index already holds its chunk (or,
// for a result without a chunk, the video) under the same fingerprint: a
// result delivered twice is committed once. A result dropped so has its
// blobs that are already in the store removed, since nothing names them.
// It reports whether res was committed.
func (s *LocalSink) CommitOnce(ctx context.Context, res *ChunkResult) (bool, error) {
	old, err := s.db.Video(res.Video.Source)
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return false, err
	}
	if err == nil && old.Fingerprint == res.Video.Fingerprint &&
		(res.Chunk == nil && old.Failure == res.Video.Failure || res.Chunk != nil && old.HasChunk(res.Chunk.Index)) {
		for _, b := range res.Blobs {
			if b.Stored {
				if _, err := s.db.DiscardUnreferenced(b.Name); err != nil {
					return false, err
				}
			}
		}
		return false, nil
	}
	return true, s.Commit(ctx, res)
}
