package importer

import (
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

// embeddings reads the chunk's embeddings (docs/formats.md §4): the pickle of
// each passed clip, for every <p>_embd folder, then each <p>_embd_parquet
// file of the chunk, which must agree with those pickles to float32
// precision and supplies, as float32 (1, N), the vectors of passed clips
// that have no pickle. The result is in clip order, prefixes sorted.
func (im *importer) embeddings(p *chunkPlan) []index.EmbeddingRecord {
	byClip := map[uuid.UUID][]index.EmbeddingRecord{}
	pickles := map[string]map[uuid.UUID]index.Embedding{}
	for _, prefix := range im.tree.pickles {
		folder, got := index.EmbedDir(prefix), map[uuid.UUID]index.Embedding{}
		pickles[prefix] = got
		for _, cp := range p.clips {
			id := cp.rec.ID
			if !im.tree.has(folder, id) {
				continue
			}
			path := im.tree.path(folder, id, ".pickle")
			if cp.rec.Filtered {
				im.fail(&ImportError{Path: im.tree.name(path), Reason: "embedding of a filtered clip (only passed clips carry embeddings); not imported"})
				continue
			}
			e, err := readPickle(im.tree.fsys, path)
			if err != nil {
				im.fail(importErr(im.tree.name(path), err))
				continue
			}
			got[id] = e
			byClip[id] = append(byClip[id], index.EmbeddingRecord{Prefix: prefix, Clip: id, Embedding: e})
		}
	}
	for _, prefix := range im.tree.parquets {
		for _, e := range im.parquetOnly(p, prefix, pickles[prefix]) {
			byClip[e.Clip] = append(byClip[e.Clip], e)
		}
	}
	var out []index.EmbeddingRecord
	for _, cp := range p.clips {
		list := byClip[cp.rec.ID]
		slices.SortFunc(list, func(a, b index.EmbeddingRecord) int { return strings.Compare(a.Prefix, b.Prefix) })
		out = append(out, list...)
	}
	return out
}

// parquetOnly checks the chunk's <prefix>_embd_parquet file against the
// pickles loaded and returns, as float32 (1, N), the vectors of passed
// clips that have no pickle file.
func (im *importer) parquetOnly(p *chunkPlan, prefix string, pickles map[uuid.UUID]index.Embedding) []index.EmbeddingRecord {
	folder := index.EmbedParquetDir(prefix)
	if !im.tree.has(folder, p.rec.ID) {
		return nil
	}
	path := im.tree.path(folder, p.rec.ID, ".parquet")
	rows, err := readParquet(im.tree.fsys, path, p.rec.Clips, pickles)
	if err != nil {
		im.fail(importErr(im.tree.name(path), err))
		return nil
	}
	var out []index.EmbeddingRecord
	for _, cp := range p.clips {
		row, ok := rows[cp.rec.ID]
		if ok && !cp.rec.Filtered && !im.tree.has(index.EmbedDir(prefix), cp.rec.ID) {
			out = append(out, rowEmbedding(prefix, cp.rec.ID, row))
		}
	}
	return out
}

// readPickle loads a pickled float32 or float16 numpy array.
func readPickle(fsys fs.FS, path string) (index.Embedding, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return index.Embedding{}, fmt.Errorf("cannot read: %w", err)
	}
	a, err := pack.Unpickle(b)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), "pack: unpickle: ")
		why = strings.TrimSuffix(why, ": "+pack.ErrBadPickle.Error())
		return index.Embedding{}, fmt.Errorf("not a float32 or float16 numpy array pickle: %s: %w", why, pack.ErrBadPickle)
	}
	if len(a.Data) == 0 {
		return index.Embedding{}, fmt.Errorf("empty array of shape %v", a.Shape)
	}
	return index.Embedding{DType: a.DType.String(), Shape: a.Shape, Data: a.Data}, nil
}

// readParquet reads a chunk's embedding Parquet file and checks it: one row
// per listed passed clip at most, each equal to that clip's pickle (if
// loaded) to float32 precision. It returns the vectors by clip.
func readParquet(fsys fs.FS, path string, passed []uuid.UUID, pickles map[uuid.UUID]index.Embedding) (map[uuid.UUID][]float64, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	rows, err := pack.ReadEmbeddingParquet(b)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), "pack: read embedding parquet: ")
		why = strings.TrimSuffix(why, ": "+pack.ErrBadParquet.Error())
		return nil, fmt.Errorf("not an embedding parquet file: %s: %w", why, pack.ErrBadParquet)
	}
	out := map[uuid.UUID][]float64{}
	for i, r := range rows {
		id, err := clipwriter.ParseUUID(r.ID)
		switch {
		case err != nil:
			return nil, fmt.Errorf("row %d: id %w", i, err)
		case !slices.Contains(passed, id):
			return nil, fmt.Errorf("row %d: clip %s is not a passed clip of this chunk", i, id)
		case out[id] != nil:
			return nil, fmt.Errorf("row %d: clip %s has a row already", i, id)
		case len(r.Embedding) == 0:
			return nil, fmt.Errorf("row %d: clip %s: empty embedding", i, id)
		}
		if e, ok := pickles[id]; ok {
			if err := sameFloat32(r.Embedding, e); err != nil {
				return nil, fmt.Errorf("row %d: clip %s: %w", i, id, err)
			}
		}
		out[id] = r.Embedding
	}
	return out, nil
}

// sameFloat32 compares a Parquet vector with a pickled one as float32s
// (NeMo widens the pickled array to float64 for Parquet).
func sameFloat32(row []float64, e index.Embedding) error {
	a, err := pack.NewArray(e.DType, e.Shape, e.Data)
	if err != nil {
		return err
	}
	vals := a.Float64s()
	if len(vals) != len(row) {
		return fmt.Errorf("%d values, but its pickle has %d", len(row), len(vals))
	}
	for j, x := range row {
		p, q := float32(x), float32(vals[j])
		if p != q && !(math.IsNaN(float64(p)) && math.IsNaN(float64(q))) {
			return fmt.Errorf("value %d is %v, but its pickle has %v", j, x, vals[j])
		}
	}
	return nil
}

// rowEmbedding is a Parquet vector as a float32 (1, N) embedding.
func rowEmbedding(prefix string, id uuid.UUID, row []float64) index.EmbeddingRecord {
	v := make([]float32, len(row))
	for i, x := range row {
		v[i] = float32(x)
	}
	a := pack.Float32Array([]int{1, len(v)}, v)
	return index.EmbeddingRecord{Prefix: prefix, Clip: id, Embedding: index.Embedding{DType: a.DType.String(), Shape: a.Shape, Data: a.Data}}
}
