package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/curate/plan"
	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// ImportConfig is one import of a ClipWriterStage output tree.
type ImportConfig struct {
	// From is the root of the tree: NeMo Curator's output path, or a
	// clipfs export; a folder, or (with Tree) the URI messages name it by.
	From string
	// Tree, if set, holds the tree From names (a bucket's prefix, from
	// s3store.Folder.FS); nil reads the folder From. Its errors that are a
	// fault of the environment (curate/fault: a store that stays
	// unreachable) leave the videos they meet unfinished, never failed.
	Tree fs.FS
	// InputPath, if set, is the root the source videos were under (NeMo's
	// --input): every video must be below it, and its processed_videos
	// file at its path with InputPath stripped (docs/formats.md §1).
	InputPath string
	// Shards say when the open WebDataset shard seals (0 = defaults).
	Shards index.ShardLimits
	// MinFree is the free space to keep, as Config.MinFree (the zero value
	// is no guard; fault.MinFreeDefault the default).
	MinFree int64
	// Log receives a line per imported video (Info), per chunk (Debug)
	// and one per file that could not be imported (Warn); nil is silent.
	Log *slog.Logger
}

// ImportReport is the outcome of an import.
type ImportReport struct {
	Videos     int // processed_videos files found
	Imported   int // videos imported (or completed) now
	UpToDate   int // skipped: imported before from the same files
	Chunks     int // chunks committed now
	Clips      int // clips committed now (passed and filtered)
	Embeddings int // embeddings committed now
	// Failed holds one error per file that could not be imported (an
	// *ImportError naming it), or per commit that failed.
	Failed []error
	// Unfinished holds one *fault.EnvError per video a fault of the machine
	// (a full disk, EIO) left unfinished; a re-run imports what is left.
	Unfinished []error
}

// ErrSomeFilesFailed is returned (wrapped) when some files of the tree
// could not be imported and the rest was.
var ErrSomeFilesFailed = errors.New("some files could not be imported")

// importer is one Import in progress. Videos are imported one after the
// other, in path order, so that shard contents do not depend on timing.
type importer struct {
	db     *index.DB
	cfg    ImportConfig
	tree   *treeScan
	log    *slog.Logger
	report ImportReport
	// listed holds every clip some chunk file lists, chunks every chunk
	// seen: what is neither is reported as left over.
	listed, chunks map[uuid.UUID]bool
	owner          map[uuid.UUID]string // clip -> the chunk file that imported it
	problems       int                  // failures so far; a video compares before and after
	diskFull       bool                 // stop taking videos
}

// Import ingests the ClipWriterStage tree at cfg.From into db so that a
// mount serves the same tree: videos, chunks, clips with their media and
// previews, and embeddings (pickles, or Parquet rows where a pickle is
// missing). Each video commits chunk by chunk, like curation; clips with
// media join the open shard, which is sealed at the end, and index.parquet
// is rewritten. A file that cannot be used is reported (Report.Failed, and
// one Warn line) and skipped. A video imported before from the same
// processed_* files is skipped. The error is ctx's when cancelled, wraps
// ErrSomeFilesFailed when some files failed, and is nil otherwise.
func Import(ctx context.Context, db *index.DB, cfg ImportConfig) (ImportReport, error) {
	if err := cfg.Check(); err != nil {
		return ImportReport{}, err
	}
	tree, err := scanTree(cfg.Tree, cfg.From)
	if err != nil {
		return ImportReport{}, err
	}
	im := &importer{db: db, cfg: cfg, tree: tree, log: cfg.Log,
		listed: map[uuid.UUID]bool{}, chunks: map[uuid.UUID]bool{}, owner: map[uuid.UUID]string{}}
	im.report.Videos = len(tree.videos)
	for _, err := range tree.problems {
		im.fail(err)
	}
	for _, rel := range tree.videos {
		if ctx.Err() != nil || im.diskFull {
			break
		}
		im.video(ctx, rel)
	}
	if ctx.Err() == nil && !im.diskFull {
		im.markListed(im.readChunks(tree.orphans), "")
		if len(im.report.Unfinished) == 0 { // else what they list is not known: the re-run reports
			for _, err := range tree.leftovers(im.listed, im.chunks) {
				im.fail(err)
			}
		}
		// With videos unfinished the shard stays open: the re-run that
		// finishes them seals it.
		_, errs := publish.Update(ctx, db, len(im.report.Unfinished) == 0, im.report.Imported > 0)
		for _, err := range errs {
			im.fail(err)
		}
	}
	rep := im.report
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if len(rep.Unfinished) > 0 || im.diskFull {
		return rep, fmt.Errorf("%d videos: %w", max(1, len(rep.Unfinished)), fault.ErrUnfinished)
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d files: %w", len(rep.Failed), ErrSomeFilesFailed)
	}
	return rep, nil
}

// Check makes From absolute and checks that it is a ClipWriterStage tree
// (it has a processed_videos folder), and fills in defaults. Import calls
// it; a caller may call it first to fail before opening a database.
func (c *ImportConfig) Check() error {
	if c.From == "" {
		return errors.New("no tree to import given (--from DIR)")
	}
	if c.Tree == nil {
		abs, err := absFolder("import", c.From)
		if err != nil {
			return err
		}
		c.From, c.Tree = abs, os.DirFS(abs)
	}
	st, err := fs.Stat(c.Tree, index.DirVideos)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("import %s: %w", c.From, err)
	}
	if err != nil || !st.IsDir() {
		return fmt.Errorf("import %s: not a ClipWriterStage output tree (no %s folder)", c.From, index.DirVideos)
	}
	if c.Shards == (index.ShardLimits{}) {
		c.Shards = index.DefaultShardLimits()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (im *importer) fail(err error) {
	if ee := fault.AsEnv("", err); ee != nil { // the machine's fault: not the file's
		im.diskFull = im.diskFull || ee.DiskFull
		im.report.Unfinished = append(im.report.Unfinished, ee)
		im.log.Warn(ee.Error())
		return
	}
	im.report.Failed = append(im.report.Failed, err)
	im.problems++
	im.log.Warn(err.Error())
}

// chunkBytes is a chunk file and its content.
type chunkBytes struct {
	chunkFile
	b []byte
}

func (im *importer) readChunks(files []chunkFile) []chunkBytes {
	var out []chunkBytes
	for _, cf := range files {
		b, err := fs.ReadFile(im.tree.fsys, cf.path)
		if err != nil {
			im.fail(importErr(im.tree.name(cf.path), fmt.Errorf("cannot read: %w", err)))
			continue
		}
		out = append(out, chunkBytes{cf, b})
	}
	return out
}

// videoFile is a checked processed_videos file and its chunk files.
type videoFile struct {
	path      string // in the tree
	v         index.VideoRecord
	chunks    []chunkBytes
	srcExists bool // the source video is on this machine (its mtime is in v)
}

// video imports one processed_videos/<rel>.json and its chunks: first every
// file is read and checked (problems decide the fingerprint), then each
// chunk copies its media and commits.
func (im *importer) video(ctx context.Context, rel string) {
	before, down := im.problems, len(im.report.Unfinished)
	vf, ok := im.readVideo(rel)
	if !ok || len(im.report.Unfinished) > down { // a file left unread: the re-run imports the video
		return
	}
	old, err := im.db.Video(vf.v.Source)
	if err == nil && old.Fingerprint == vf.v.Fingerprint && old.Complete() {
		im.report.UpToDate++
		im.markListed(vf.chunks, vf.v.Source)
		im.log.Debug("up to date", "video", vf.v.Source)
		return
	}
	plans := im.planChunks(ctx, vf)
	if len(im.report.Unfinished) > down {
		return
	}
	if im.problems > before {
		vf.v.Fingerprint += " partial" // imported again (and its problems reported) on every run
	}
	if err != nil || old.Fingerprint != vf.v.Fingerprint {
		old = index.VideoRecord{} // nothing to resume
	}
	im.commitVideo(ctx, vf, old, plans)
}

// readVideo reads and checks processed_videos/<rel>.json and reads its
// chunk files. On a problem the video is reported and skipped.
func (im *importer) readVideo(rel string) (videoFile, bool) {
	vf := videoFile{path: index.VideoMetaPath(rel)}
	vf.chunks = im.readChunks(im.tree.chunks[rel])
	b, err := fs.ReadFile(im.tree.fsys, vf.path)
	if err == nil {
		vf.v, err = clipwriter.ParseVideo(b)
	} else {
		err = fmt.Errorf("cannot read: %w", err)
	}
	if err == nil {
		err = im.checkInputPath(vf.v.Source, rel)
	}
	if err != nil {
		im.fail(importErr(im.tree.name(vf.path), err))
		im.markListed(vf.chunks, "")
		return vf, false
	}
	vf.v.Rel, vf.v.Fingerprint, vf.v.CuratedAt = rel, importFingerprint(b, vf.chunks), index.Now()
	if st, err := os.Stat(vf.v.Source); err == nil {
		vf.v.SourceMTime, vf.srcExists = st.ModTime().Unix(), true
	} else if st, err := fs.Stat(im.tree.fsys, vf.path); err == nil {
		vf.v.SourceMTime = st.ModTime().Unix()
	}
	return vf, true
}

// commitVideo commits the planned chunks that old (the same import, if
// resumed) lacks, or the video alone when no chunk is committed.
func (im *importer) commitVideo(ctx context.Context, vf videoFile, old index.VideoRecord, plans []*chunkPlan) {
	done, clips := 0, im.report.Clips
	for _, p := range plans {
		if ctx.Err() != nil {
			return
		}
		if old.HasChunk(p.rec.Index) {
			continue
		}
		if err := im.commitChunk(vf.v, p); err != nil {
			if ee := fault.AsEnv(vf.v.Source, err); ee != nil {
				im.fail(ee)
				return
			}
			im.fail(fmt.Errorf("%s: %w", im.tree.name(p.file), err))
			return
		}
		done++
	}
	if done == 0 && len(old.ChunksDone) == 0 {
		if err := im.db.CommitVideo(vf.v); err != nil {
			im.fail(fmt.Errorf("%s: %w", im.tree.name(vf.path), err))
			return
		}
	}
	im.report.Imported++
	im.log.Info(fmt.Sprintf("imported %s: %d chunks, %d clips", vf.v.Rel, done, im.report.Clips-clips))
}

// planChunks reads and checks every chunk of v, and reports the chunk
// files v's num_clip_chunks promises that are not there.
func (im *importer) planChunks(ctx context.Context, vf videoFile) []*chunkPlan {
	v := vf.v
	im.markListed(vf.chunks, v.Source)
	var plans []*chunkPlan
	have := map[int]bool{}
	for _, cb := range vf.chunks {
		have[cb.index] = true
		if ctx.Err() != nil {
			return nil
		}
		if p := im.planChunk(v, cb, v.SourceMTime, vf.srcExists); p != nil {
			plans = append(plans, p)
		}
	}
	for i := range v.NumClipChunks {
		if !have[i] {
			im.fail(&ImportError{Path: im.tree.name(index.ChunkMetaPath(v.Rel, i)), Reason: fmt.Sprintf("missing (the video has num_clip_chunks %d)", v.NumClipChunks)})
		}
	}
	return plans
}

// checkInputPath checks a video against --input-path as NeMo names its
// files: the string prefix stripped, then leading slashes.
func (im *importer) checkInputPath(video, rel string) error {
	root := im.cfg.InputPath
	if root == "" {
		return nil
	}
	if !strings.HasPrefix(video, root) {
		return fmt.Errorf("video %q is not under --input-path %s", video, root)
	}
	if want := strings.TrimLeft(strings.TrimPrefix(video, root), "/"); want != rel {
		return fmt.Errorf("video %q under --input-path %s belongs at %s", video, root, index.VideoMetaPath(want))
	}
	return nil
}

// markListed notes the clips and the chunk each chunk file names, read
// leniently (a file that failed to parse may still name its clips), so
// that their files are not reported again as left over.
func (im *importer) markListed(chunks []chunkBytes, source string) {
	for _, cb := range chunks {
		var c struct {
			Video    string   `json:"video"`
			Clips    []string `json:"clips"`
			Filtered []string `json:"filtered_clips"`
		}
		json.Unmarshal(cb.b, &c) // best effort: type errors leave the other fields filled
		for _, s := range append(c.Clips, c.Filtered...) {
			if id, err := uuid.Parse(s); err == nil {
				im.listed[id] = true
			}
		}
		video := source
		if video == "" {
			video = c.Video
		}
		if video != "" {
			im.chunks[plan.ChunkUUID(video, cb.index)] = true
		}
	}
}

// importFingerprint identifies what a video was imported from: its
// processed_videos file and its chunk files.
func importFingerprint(video []byte, chunks []chunkBytes) string {
	h := sha256.New()
	h.Write(video)
	for _, c := range chunks {
		fmt.Fprintf(h, "\x00%d\x00%d\x00", c.index, len(c.b))
		h.Write(c.b)
	}
	return "import:" + hex.EncodeToString(h.Sum(nil))
}

// room is the free-space guard (fault.CheckRoom) on the database.
func (im *importer) room() error {
	sp, err := im.db.Space()
	if err != nil {
		return err
	}
	return fault.CheckRoom(sp.Free, sp.Total, im.db.Dir(), im.cfg.MinFree)
}

// absFolder is path made absolute, which must be a folder.
func absFolder(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%s %s: %w", what, abs, errors.Unwrap(err))
	} else if !st.IsDir() {
		return "", fmt.Errorf("%s %s is not a folder", what, abs)
	}
	return abs, nil
}

// errText is err's reason without the path a *fs.PathError repeats.
func errText(err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
