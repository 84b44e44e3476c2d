package tree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

// Tree is the served tree over an index, without FUSE: folders are
// slash-separated paths relative to the root ("" is the root).
type Tree struct {
	db  *index.DB
	out string // output root written into clip_location
}

// New serves db; out is the output path metas name in clip_location
// (normally the mountpoint or export folder, absolute, no trailing slash).
func New(db *index.DB, out string) *Tree {
	if out != "/" {
		out = strings.TrimSuffix(out, "/")
	}
	return &Tree{db: db, out: out}
}

// ChildPath is the path of name inside folder dir.
func ChildPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func isNotFound(err error) bool { return errors.Is(err, index.ErrNotFound) }

// DB is the index the tree serves.
func (t *Tree) DB() *index.DB { return t.db }

// Lookup finds name in folder dir.
func (t *Tree) Lookup(dir, name string) (index.Entry, error) {
	return t.db.Lookup(dir, name)
}

// ReadDir lists up to limit entries of dir after name `after`.
func (t *Tree) ReadDir(dir, after string, limit int) ([]index.Entry, error) {
	return t.db.ReadDir(dir, after, limit)
}

// OpenBlobFile opens the local file behind a blob entry: the store's own
// (a folder: LocalPath and one open) or one it fetches the blob whole into
// (a cache in front of an object store; index.DB.OpenBlobFile). FUSE
// passthrough and copy_file_range need one. ok false: read the blob
// through OpenBlob.
func (t *Tree) OpenBlobFile(ctx context.Context, e index.Entry) (f *os.File, ok bool, err error) {
	return t.db.OpenBlobFile(ctx, e.Ref)
}

// OpenBlob opens the bytes behind a blob entry through the index's store.
func (t *Tree) OpenBlob(ctx context.Context, e index.Entry) (index.BlobReader, error) {
	return t.db.OpenBlob(ctx, e.Ref)
}

// VerifyBlob checks the bytes behind a blob entry against the digest
// recorded when it was adopted (index.DB.VerifyBlob: the blob is read once
// per process, the verdict kept); bytes that differ give an error wrapping
// index.ErrCorrupt.
func (t *Tree) VerifyBlob(e index.Entry) error { return t.db.VerifyBlob(e.Ref) }

// Size is the exact byte size of a file entry. Generated files other than
// pickles are rendered to learn it.
func (t *Tree) Size(e index.Entry) (int64, error) {
	switch e.Kind {
	case index.KindBlob, index.KindShard:
		return e.Size, nil
	case index.KindEmbedPickle:
		a, err := t.embedding(e.Ref)
		if err != nil {
			return 0, err
		}
		return pack.PickleSize(a), nil
	}
	b, err := t.Render(e)
	return int64(len(b)), err
}

// Render returns the bytes of a generated file entry.
func (t *Tree) Render(e index.Entry) ([]byte, error) {
	b, err := t.render(e)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", e.Name, err)
	}
	return b, nil
}

func (t *Tree) render(e index.Entry) ([]byte, error) {
	switch e.Kind {
	case index.KindClipMeta:
		id, err := uuid.Parse(e.Ref)
		if err != nil {
			return nil, err
		}
		c, err := t.db.Clip(id)
		if err != nil {
			return nil, err
		}
		return clipwriter.ClipJSON(c, t.out), nil
	case index.KindVideoMeta:
		v, err := t.db.Video(e.Ref)
		if err != nil {
			return nil, err
		}
		return clipwriter.VideoJSON(v), nil
	case index.KindChunkMeta:
		return t.renderChunk(e.Ref)
	case index.KindEmbedPickle:
		a, err := t.embedding(e.Ref)
		if err != nil {
			return nil, err
		}
		return pack.Pickle(a), nil
	case index.KindEmbedParquet:
		return t.renderParquet(e.Ref)
	case index.KindShardIndex:
		return t.renderShardIndex()
	}
	return nil, fmt.Errorf("entry kind %d has no rendered form", e.Kind)
}

func (t *Tree) embedding(ref string) (pack.Array, error) {
	prefix, clip, err := splitRef(ref)
	if err != nil {
		return pack.Array{}, err
	}
	emb, err := t.db.Embedding(prefix, clip)
	if err != nil {
		return pack.Array{}, err
	}
	return packArray(emb)
}

func (t *Tree) renderChunk(ref string) ([]byte, error) {
	id, err := uuid.Parse(ref)
	if err != nil {
		return nil, err
	}
	ch, err := t.db.Chunk(id)
	if err != nil {
		return nil, err
	}
	clips := make([]index.ClipRecord, 0, len(ch.Clips))
	for _, cid := range ch.Clips {
		c, err := t.db.Clip(cid)
		if isNotFound(err) { // a dry run records chunks without clips
			c = index.ClipRecord{ID: cid}
		} else if err != nil {
			return nil, err
		}
		clips = append(clips, c)
	}
	return clipwriter.ChunkJSON(ch, clips), nil
}

// renderParquet writes the chunk's embeddings of one prefix, one row per
// passed clip that has one, in clip order.
func (t *Tree) renderParquet(ref string) ([]byte, error) {
	prefix, id, err := splitRef(ref)
	if err != nil {
		return nil, err
	}
	ch, err := t.db.Chunk(id)
	if err != nil {
		return nil, err
	}
	var rows []pack.EmbeddingRow
	for _, cid := range ch.Clips {
		emb, err := t.db.Embedding(prefix, cid)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, err
		}
		a, err := packArray(emb)
		if err != nil {
			return nil, err
		}
		rows = append(rows, pack.EmbeddingRow{ID: cid.String(), Embedding: a.Float64s()})
	}
	return pack.EmbeddingParquet(rows)
}

// packArray converts a stored embedding to a numpy array description; a
// malformed vector is an error (EIO in a mount), never a panic.
func packArray(e index.Embedding) (pack.Array, error) {
	return pack.NewArray(e.DType, e.Shape, e.Data)
}

// splitRef splits "<prefix>/<uuid>" refs of embedding entries.
func splitRef(ref string) (string, uuid.UUID, error) {
	p, id, ok := strings.Cut(ref, "/")
	if !ok {
		return "", uuid.Nil, fmt.Errorf("bad reference %q", ref)
	}
	u, err := uuid.Parse(id)
	return p, u, err
}
