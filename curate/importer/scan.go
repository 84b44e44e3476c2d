package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/curate/fault"
	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// ImportError is a file of the imported tree that could not be used. It is
// reported in one line ("<path>: <reason>") and skipped; the rest of the
// tree is imported.
type ImportError struct {
	Path   string
	Reason string
	Err    error
}

func (e *ImportError) Error() string { return e.Path + ": " + e.Reason }

func (e *ImportError) Unwrap() error { return e.Err }

// importErr names path with err as the reason; an *fs.PathError inside
// err is shortened to its cause (the path is already named).
func importErr(path string, err error) *ImportError {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = strings.Replace(reason, pe.Error(), pe.Err.Error(), 1)
	}
	return &ImportError{Path: path, Reason: reason, Err: err}
}

// chunkFile is processed_clip_chunks/<rel>_<index>.json.
type chunkFile struct {
	index int
	path  string // slash path in the tree
}

// treeScan lists a ClipWriterStage tree (docs/formats.md §1) without reading
// the files: which videos, chunks and per-clip files exist. Everything the
// tree derives (wds/, index.parquet) is ignored; clipfs renders its own.
type treeScan struct {
	fsys fs.FS
	// root names the tree in messages: an absolute folder, or an s3://
	// URI. Every other path here is a slash path in fsys.
	root    string
	videos  []string               // rels below processed_videos, sorted
	chunks  map[string][]chunkFile // by video rel, by index
	orphans []chunkFile            // chunk files whose video has no processed_videos file
	// folders maps a flat folder (metas/v0, clips, filtered_clips,
	// previews, <p>_embd, <p>_embd_parquet) to the uuids it names.
	folders map[string]map[uuid.UUID]bool
	// infos holds the size and mtime the listing gave for the files of
	// metas/v0, clips and filtered_clips, so that an import asks them
	// once per folder rather than once per file (a HEAD per object in a
	// bucket).
	infos    map[string]map[uuid.UUID]fs.FileInfo
	pickles  []string // embedding prefixes with a <p>_embd folder, sorted
	parquets []string // prefixes with a <p>_embd_parquet folder, sorted
	problems []error
	// down is the first fault of the machine or of the store met while
	// listing (curate/fault): the listing is incomplete, and the import
	// does not go on from it.
	down error
}

func (s *treeScan) has(folder string, id uuid.UUID) bool { return s.folders[folder][id] }

// stat is the listed info of file id<ext> of a flat folder, or a fresh
// Stat where the listing gave none.
func (s *treeScan) stat(folder string, id uuid.UUID, ext string) (fs.FileInfo, error) {
	if info, ok := s.infos[folder][id]; ok {
		return info, nil
	}
	return fs.Stat(s.fsys, s.path(folder, id, ext))
}

// path is the file of a flat folder named by id.
func (s *treeScan) path(folder string, id uuid.UUID, ext string) string {
	return folder + "/" + id.String() + ext
}

// name is a file of the tree as messages name it: its path in the folder
// or the URI imported.
func (s *treeScan) name(rel string) string {
	if strings.Contains(s.root, "://") {
		return s.root + "/" + rel
	}
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

func (s *treeScan) problem(rel string, reason string) {
	s.problems = append(s.problems, &ImportError{Path: s.name(rel), Reason: reason})
}

// unreadable reports a file or folder that cannot be listed: a problem of
// the tree, or a fault of the machine or store that stops the import.
func (s *treeScan) unreadable(rel string, err error) {
	if fault.Environmental(err) {
		if s.down == nil {
			s.down = fmt.Errorf("import %s: %w", s.name(rel), err)
		}
		return
	}
	s.problem(rel, "cannot read: "+errText(err))
}

var prefixPattern = regexp.MustCompile(`^[a-z0-9]+$`)

// scanTree lists the tree fsys holds, which root names. Only a root that
// cannot be read, or a fault of the machine or store while listing, is an
// error; bad names are problems.
func scanTree(fsys fs.FS, root string) (*treeScan, error) {
	s := &treeScan{fsys: fsys, root: root, chunks: map[string][]chunkFile{}, folders: map[string]map[uuid.UUID]bool{}, infos: map[string]map[uuid.UUID]fs.FileInfo{}}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", root, errors.Unwrap(err))
	}
	s.walkVideos()
	s.walkChunks()
	s.flat(index.DirMetas, ".json")
	s.flat(index.DirClips, ".mp4")
	s.flat(index.DirFilteredClips, ".mp4")
	s.flat(index.DirPreviews, "/")
	for _, e := range ents {
		name := e.Name()
		prefix, parquet := strings.CutSuffix(name, "_embd_parquet")
		if !parquet {
			prefix, _ = strings.CutSuffix(name, "_embd")
		}
		if !e.IsDir() || prefix == name {
			continue
		}
		if !prefixPattern.MatchString(prefix) {
			s.problem(name, "embedding prefix "+strconv.Quote(prefix)+" is not lowercase letters and digits; folder not imported")
			continue
		}
		if parquet {
			s.parquets = append(s.parquets, prefix)
			s.flat(name, ".parquet")
		} else {
			s.pickles = append(s.pickles, prefix)
			s.flat(name, ".pickle")
		}
	}
	if s.down != nil {
		return nil, s.down
	}
	return s, nil
}

// walk calls fn with the slash path below dir of every file in it, and
// its path in the tree.
func (s *treeScan) walk(dir string, fn func(rel, path string)) {
	fs.WalkDir(s.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) || p != dir {
				s.unreadable(p, err)
			}
			return nil
		}
		if !d.IsDir() {
			fn(strings.TrimPrefix(p, dir+"/"), p)
		}
		return nil
	})
}

func (s *treeScan) walkVideos() {
	s.walk(index.DirVideos, func(rel, path string) {
		if r, ok := strings.CutSuffix(rel, ".json"); ok && r != "" {
			s.videos = append(s.videos, r)
		} else {
			s.problem(path, "not a <video>.json file")
		}
	})
	slices.Sort(s.videos)
}

var chunkName = regexp.MustCompile(`^(.+)_(0|[1-9][0-9]{0,8})\.json$`)

func (s *treeScan) walkChunks() {
	known := map[string]bool{}
	for _, v := range s.videos {
		known[v] = true
	}
	s.walk(index.DirChunks, func(rel, path string) {
		m := chunkName.FindStringSubmatch(rel)
		if m == nil {
			s.problem(path, "not a <video>_<chunk index>.json file")
			return
		}
		i, _ := strconv.Atoi(m[2])
		if !known[m[1]] {
			s.problem(path, "no "+index.VideoMetaPath(m[1])+" for this chunk; not imported")
			s.orphans = append(s.orphans, chunkFile{i, path})
			return
		}
		s.chunks[m[1]] = append(s.chunks[m[1]], chunkFile{i, path})
	})
	for _, list := range s.chunks {
		slices.SortFunc(list, func(a, b chunkFile) int { return a.index - b.index })
	}
}

// flat lists a folder of <uuid><ext> files ("/": of <uuid> folders).
func (s *treeScan) flat(folder, ext string) {
	ents, err := fs.ReadDir(s.fsys, folder)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.unreadable(folder, err)
	}
	ids := map[uuid.UUID]bool{}
	s.folders[folder] = ids
	var infos map[uuid.UUID]fs.FileInfo
	if keepInfo(folder) {
		infos = map[uuid.UUID]fs.FileInfo{}
		s.infos[folder] = infos
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ext)
		if ext == "/" {
			name, ok = e.Name(), e.IsDir()
		} else if e.IsDir() {
			ok = false
		}
		id, err := clipwriter.ParseUUID(name)
		if !ok || err != nil {
			want := "<span uuid>" + ext
			if ext == "/" {
				want = "a <span uuid> folder"
			} else if strings.HasSuffix(folder, "_parquet") {
				want = "<chunk uuid>" + ext
			}
			s.problem(folder+"/"+e.Name(), "not "+want+"; not imported")
			continue
		}
		ids[id] = true
		if infos != nil {
			if info, err := e.Info(); err == nil {
				infos[id] = info
			}
		}
	}
}

// keepInfo says whether the import reads the size or mtime of a flat
// folder's files: the metas' mtimes, the clips' sizes.
func keepInfo(folder string) bool {
	return folder == index.DirMetas || folder == index.DirClips || folder == index.DirFilteredClips
}

// leftovers reports, one line per folder, the files of clips (or chunks)
// that no imported chunk listed: metas nobody references, media without
// metas, and so on.
func (s *treeScan) leftovers(clips, chunks map[uuid.UUID]bool) []error {
	var out []error
	folders := make([]string, 0, len(s.folders))
	for f := range s.folders {
		folders = append(folders, f)
	}
	slices.Sort(folders)
	for _, folder := range folders {
		seen, byChunk := clips, strings.HasSuffix(folder, "_parquet")
		if byChunk {
			seen = chunks
		}
		var left []string
		for id := range s.folders[folder] {
			if !seen[id] {
				left = append(left, id.String())
			}
		}
		if len(left) == 0 {
			continue
		}
		slices.Sort(left)
		why := "no processed_clip_chunks file lists their clips"
		if byChunk {
			why = "their chunks have no processed_clip_chunks file"
		}
		out = append(out, &ImportError{Path: s.name(folder),
			Reason: fmt.Sprintf("%d entries not imported: %s (first: %s)", len(left), why, left[0])})
	}
	return out
}
