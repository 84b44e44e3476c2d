package importer

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// chunkPlan is a checked chunk, ready to copy its media and commit.
type chunkPlan struct {
	file       string // the chunk file, in the tree
	srcMTime   int64  // the source video's mtime, if srcExists
	srcExists  bool
	rec        index.ChunkRecord
	clips      []clipPlan
	embeddings []index.EmbeddingRecord
}

// clipPlan is a checked clip and the files to copy for it.
type clipPlan struct {
	rec      index.ClipRecord
	media    string // the .mp4 to copy (in the tree), "" for none
	previews []previewFile
	mtime    int64 // its shard members' mtime
}

type previewFile struct {
	path       string // in the tree
	start, end int
}

// planChunk checks one chunk file and everything its clips have: metas,
// media, previews, embeddings. It returns nil when the chunk file itself is
// unusable; a bad clip file only drops that file (or clip).
func (im *importer) planChunk(v index.VideoRecord, cb chunkBytes, srcMTime int64, srcExists bool) *chunkPlan {
	rec, err := clipwriter.ParseChunk(cb.b)
	if err == nil && rec.Source != v.Source {
		err = fmt.Errorf("video %q is not %q, the video of %s", rec.Source, v.Source, index.VideoMetaPath(v.Rel))
	}
	if err == nil && rec.Index != cb.index {
		err = fmt.Errorf("clip_chunk_index %d differs from the file name", rec.Index)
	}
	listed := append(slices.Clone(rec.Clips), rec.Filtered...)
	for _, id := range listed {
		if other, ok := im.owner[id]; ok && err == nil {
			err = fmt.Errorf("clip %s is already listed by %s", id, im.tree.name(other))
		}
	}
	if err != nil {
		im.fail(importErr(im.tree.name(cb.path), err))
		return nil
	}
	rec.ID = plan.ChunkUUID(v.Source, rec.Index)
	p := &chunkPlan{file: cb.path, srcMTime: srcMTime, srcExists: srcExists, rec: rec}
	// A dry run records chunks whose clips have no files at all.
	dry := rec.Stats.Transcoded == 0
	for _, id := range listed {
		im.owner[id] = cb.path
		dry = dry && !im.tree.has(index.DirMetas, id)
	}
	for i, id := range listed {
		if cp, ok := im.planClip(id, i >= len(rec.Clips), p, dry); ok {
			p.clips = append(p.clips, cp)
		}
	}
	p.embeddings = im.embeddings(p)
	return p
}

// planClip reads one clip's metas. Its shard members get the source
// video's mtime, as curation gives them, or the metas file's when the
// source is not there.
func (im *importer) planClip(id uuid.UUID, listedFiltered bool, p *chunkPlan, dry bool) (clipPlan, bool) {
	path := im.tree.path(index.DirMetas, id, ".json")
	if !im.tree.has(index.DirMetas, id) {
		if !dry {
			im.fail(&ImportError{Path: im.tree.name(path), Reason: "missing: the clip is listed in " + im.tree.name(p.file)})
		}
		return clipPlan{}, false
	}
	b, err := fs.ReadFile(im.tree.fsys, path)
	var st fs.FileInfo
	if err == nil {
		st, err = im.tree.stat(index.DirMetas, id, ".json")
	}
	if err != nil {
		im.fail(importErr(im.tree.name(path), fmt.Errorf("cannot read: %w", err)))
		return clipPlan{}, false
	}
	c, locFiltered, err := clipwriter.ParseClip(b, id)
	if err == nil && c.Source != p.rec.Source {
		err = fmt.Errorf("source_video %q is not %q, the video of %s", c.Source, p.rec.Source, im.tree.name(p.file))
	}
	if err != nil {
		im.fail(importErr(im.tree.name(path), err))
		return clipPlan{}, false
	}
	c.Filtered = listedFiltered || locFiltered
	cp := clipPlan{rec: c, mtime: st.ModTime().Unix()}
	if p.srcExists {
		cp.mtime = p.srcMTime
	}
	cp.media = im.mediaFile(c)
	cp.previews = im.previewFiles(c)
	return cp, true
}

// mediaFile finds the clip's .mp4 in clips/ or filtered_clips/ (as it
// passed or not) and checks its size against num_bytes.
func (im *importer) mediaFile(c index.ClipRecord) string {
	folder, other, state := index.DirClips, index.DirFilteredClips, "passed"
	if c.Filtered {
		folder, other, state = other, folder, "filtered"
	}
	if im.tree.has(other, c.ID) {
		im.fail(&ImportError{Path: im.tree.name(im.tree.path(other, c.ID, ".mp4")),
			Reason: fmt.Sprintf("the clip is %s, so its media belongs in %s/; not imported", state, folder)})
	}
	if !im.tree.has(folder, c.ID) {
		return ""
	}
	path := im.tree.path(folder, c.ID, ".mp4")
	if c.Media == nil {
		im.fail(&ImportError{Path: im.tree.name(path), Reason: "its metas file has no media fields (width ... num_bytes); not imported"})
		return ""
	}
	st, err := im.tree.stat(folder, c.ID, ".mp4")
	if err == nil && st.Size() != c.Media.NumBytes {
		err = fmt.Errorf("%d bytes, but its metas file says num_bytes %d; not imported", st.Size(), c.Media.NumBytes)
	}
	if err != nil {
		im.fail(importErr(im.tree.name(path), err))
		return ""
	}
	return path
}

var previewName = regexp.MustCompile(`^(0|[1-9][0-9]{0,9})_(0|[1-9][0-9]{0,9})\.webp$`)

// previewFiles lists previews/<uuid>/<start>_<end>.webp, in window order.
func (im *importer) previewFiles(c index.ClipRecord) []previewFile {
	if !im.tree.has(index.DirPreviews, c.ID) {
		return nil
	}
	dir := index.DirPreviews + "/" + c.ID.String()
	if c.Filtered {
		im.fail(&ImportError{Path: im.tree.name(dir), Reason: "previews of a filtered clip are not served; not imported"})
		return nil
	}
	ents, err := fs.ReadDir(im.tree.fsys, dir)
	if err != nil {
		im.fail(importErr(im.tree.name(dir), fmt.Errorf("cannot read: %w", err)))
	}
	var out []previewFile
	for _, e := range ents {
		m := previewName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			im.fail(&ImportError{Path: im.tree.name(dir + "/" + e.Name()), Reason: "not a <start_frame>_<end_frame>.webp file; not imported"})
			continue
		}
		s, _ := strconv.Atoi(m[1])
		t, _ := strconv.Atoi(m[2])
		out = append(out, previewFile{path: dir + "/" + e.Name(), start: s, end: t})
	}
	slices.SortFunc(out, func(a, b previewFile) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return a.end - b.end
	})
	return out
}

// commitChunk copies the chunk's media into blobs and commits it with its
// clips, embeddings and shard samples, in one transaction.
func (im *importer) commitChunk(v index.VideoRecord, p *chunkPlan) error {
	cc := index.ChunkCommit{Video: v, Chunk: p.rec, Embeddings: p.embeddings, Limits: im.cfg.Shards}
	var blobs []string
	abort := func(err error) error { // a fault of the machine: commit nothing
		for _, b := range blobs {
			im.db.DiscardBlob(b)
		}
		return err
	}
	for _, cp := range p.clips {
		c := cp.rec
		if cp.media != "" {
			b, err := im.copyBlob(cp.media, ".mp4", c.Media.NumBytes)
			if ee := fault.AsEnv("", err); ee != nil {
				return abort(ee)
			} else if err != nil {
				im.fail(importErr(im.tree.name(cp.media), err))
			} else {
				m := *c.Media
				m.Blob, c.Media = b.Name, &m
				blobs = append(blobs, b.Name)
			}
		}
		for _, pf := range cp.previews {
			b, err := im.copyBlob(pf.path, ".webp", -1)
			if ee := fault.AsEnv("", err); ee != nil {
				return abort(ee)
			}
			if err != nil {
				im.fail(importErr(im.tree.name(pf.path), err))
				continue
			}
			c.Previews = append(c.Previews, index.Preview{Start: pf.start, End: pf.end, Blob: b.Name, Size: b.Size})
			blobs = append(blobs, b.Name)
		}
		cc.Clips = append(cc.Clips, c)
		if c.Stored() && !c.Filtered {
			cc.Samples = append(cc.Samples, publish.Sample(c, cp.mtime, p.embeddings))
		}
	}
	if err := im.db.CommitChunk(cc); err != nil {
		for _, b := range blobs {
			im.db.DiscardBlob(b)
		}
		return err
	}
	im.report.Chunks++
	im.report.Clips += len(cc.Clips)
	im.report.Embeddings += len(cc.Embeddings)
	im.log.Debug("chunk imported", "file", im.tree.name(p.file), "clips", len(cc.Clips), "embeddings", len(cc.Embeddings))
	return nil
}

// copyBlob copies src (in the tree) into a new blob; want >= 0 is the
// size it must have.
func (im *importer) copyBlob(src, ext string, want int64) (index.Blob, error) {
	if err := im.room(); err != nil {
		return index.Blob{}, err
	}
	tmp := im.db.TempPath(ext)
	defer os.Remove(tmp) // gone already once adopted
	in, err := im.tree.fsys.Open(src)
	if err != nil {
		return index.Blob{}, fmt.Errorf("cannot read: %w", err)
	}
	defer in.Close()
	out, err := os.Create(tmp)
	if err != nil {
		return index.Blob{}, fmt.Errorf("store: %w", err)
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return index.Blob{}, fmt.Errorf("cannot copy: %w", err) // ENOSPC and EIO: fault.Classify
	}
	if want >= 0 && n != want {
		return index.Blob{}, fmt.Errorf("%d bytes, but its metas file says num_bytes %d; not imported", n, want)
	}
	return im.db.AdoptBlob(tmp)
}
