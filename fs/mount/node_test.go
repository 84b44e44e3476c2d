package mount

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/fs/tree/treetest"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fixture is an index with one video of nclips clips (every third filtered),
// iv2 embeddings on the passed ones (treetest.Index), and a raw FUSE
// filesystem over it.
type fixture struct {
	db    *index.DB
	raw   fuse.RawFileSystem
	clips []index.ClipRecord
	chunk index.ChunkRecord
}

func newFixture(t *testing.T, nclips int) *fixture { return newFixtureOver(t, nclips, nil) }

// newFixtureOver is newFixture with the index's blobs in store (nil: the
// index's own folder).
func newFixtureOver(t *testing.T, nclips int, store index.BlobStore) *fixture {
	t.Helper()
	return fixtureOf(treetest.New(t, nclips, store))
}

// fixtureOf serves ix through a raw FUSE filesystem, without mounting.
func fixtureOf(ix treetest.Index) *fixture {
	return &fixture{db: ix.DB, raw: newTestFS(ix.DB, nil), clips: ix.Clips, chunk: ix.Chunk}
}

// newTestFS serves db as a raw FUSE filesystem, not mounted; log receives
// data problems (nil: silent).
func newTestFS(db *index.DB, log *slog.Logger) *rawFS {
	fs := newFS(newServedTree(tree.New(db, "/mnt/out"), log), fsTimeouts{entry: time.Second, attr: time.Second}, time.Now().Unix())
	fs.Init(nil)
	return fs
}

func (f *fixture) lookup(t *testing.T, parent uint64, name string) fuse.EntryOut {
	t.Helper()
	var out fuse.EntryOut
	if st := f.raw.Lookup(nil, &fuse.InHeader{NodeId: parent}, name, &out); st != fuse.OK {
		t.Fatalf("lookup %q: %v", name, st)
	}
	return out
}

// walk resolves a slash path from the root.
func (f *fixture) walk(t *testing.T, path ...string) fuse.EntryOut {
	t.Helper()
	out := fuse.EntryOut{NodeId: 1}
	for _, p := range path {
		out = f.lookup(t, out.NodeId, p)
	}
	return out
}

func (f *fixture) readAll(t *testing.T, node uint64, size uint64, chunk uint32) []byte {
	t.Helper()
	var open fuse.OpenOut
	if st := f.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: node}}, &open); st != fuse.OK {
		t.Fatalf("open: %v", st)
	}
	defer f.raw.Release(nil, &fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: node}, Fh: open.Fh})
	var got []byte
	buf := make([]byte, chunk)
	for off := uint64(0); off < size+1; {
		res, st := f.raw.Read(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Fh: open.Fh, Offset: off, Size: chunk}, buf)
		if st != fuse.OK {
			t.Fatalf("read at %d: %v", off, st)
		}
		b, _ := res.Bytes(buf)
		if len(b) == 0 {
			break
		}
		got = append(got, b...)
		off += uint64(len(b))
	}
	return got
}

// listPlus reads a folder with READDIRPLUS, as `ls -l` makes the kernel do.
func (f *fixture) listPlus(t *testing.T, node uint64) map[string]fuse.EntryOut {
	t.Helper()
	var open fuse.OpenOut
	if st := f.raw.OpenDir(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: node}}, &open); st != fuse.OK {
		t.Fatalf("opendir: %v", st)
	}
	got := map[string]fuse.EntryOut{}
	var off uint64
	for {
		buf := make([]byte, 64<<10)
		list := fuse.NewDirEntryList(buf, off)
		if st := f.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Fh: open.Fh, Offset: off, Size: uint32(len(buf))}, list); st != fuse.OK {
			t.Fatalf("readdirplus: %v", st)
		}
		n := 0
		for _, e := range parseDirPlus(list.Bytes()) {
			got[e.name] = e.entry
			off = e.off
			n++
		}
		if n == 0 {
			return got
		}
	}
}

type plusEntry struct {
	name  string
	off   uint64
	entry fuse.EntryOut
}

// parseDirPlus decodes the kernel's fuse_direntplus records.
func parseDirPlus(b []byte) []plusEntry {
	var out []plusEntry
	const entrySize = int(unsafeSizeofEntryOut)
	for len(b) >= entrySize+24 {
		var e plusEntry
		binary.Read(bytes.NewReader(b[:entrySize]), binary.LittleEndian, &e.entry)
		d := b[entrySize:]
		e.off = binary.LittleEndian.Uint64(d[8:])
		nameLen := int(binary.LittleEndian.Uint32(d[16:]))
		e.name = string(d[24 : 24+nameLen])
		out = append(out, e)
		rec := (24 + nameLen + 7) &^ 7
		b = d[rec:]
	}
	return out
}

const unsafeSizeofEntryOut = 128 // sizeof(struct fuse_entry_out)

func TestRootListsFoldersWithContent(t *testing.T) {
	f := newFixture(t, 3)
	got := f.listPlus(t, 1)
	for _, want := range []string{".", "..", "clips", "filtered_clips", "metas", "iv2_embd", "iv2_embd_parquet", "processed_videos", "processed_clip_chunks"} {
		if _, ok := got[want]; !ok {
			t.Errorf("root lacks %q (has %v)", want, got)
		}
	}
	if _, ok := got["previews"]; ok || len(got) != 9 {
		t.Errorf("root has %d entries: %v", len(got), got)
	}
}

func TestReaddirPlusPagesAndMatchesLookup(t *testing.T) {
	f := newFixture(t, 2*readDirPage+10) // crosses two index pages
	clips := f.walk(t, "clips")
	listed := f.listPlus(t, clips.NodeId)
	passed := 0
	for _, c := range f.clips {
		if c.Filtered {
			continue
		}
		passed++
		name := c.ID.String() + ".mp4"
		e, ok := listed[name]
		if !ok {
			t.Fatalf("%s not listed", name)
		}
		if int64(e.Attr.Size) != c.Media.NumBytes || e.Attr.Mode != syscall.S_IFREG|0o444 {
			t.Fatalf("%s: size %d mode %o, want %d", name, e.Attr.Size, e.Attr.Mode, c.Media.NumBytes)
		}
		if l := f.lookup(t, clips.NodeId, name); l.Ino != e.Ino || l.Attr.Size != e.Attr.Size {
			t.Fatalf("%s: lookup ino %d size %d, readdirplus ino %d size %d", name, l.Ino, l.Attr.Size, e.Ino, e.Attr.Size)
		}
	}
	if len(listed) != passed+2 {
		t.Fatalf("listed %d entries, want %d passed clips + . and ..", len(listed), passed)
	}
}

func TestInodeNumbersStableAcrossInstances(t *testing.T) {
	f := newFixture(t, 3)
	name := f.clips[0].ID.String() + ".json"
	a := f.walk(t, "metas", "v0", name)
	f2 := &fixture{raw: newTestFS(f.db, nil)}
	if b := f2.walk(t, "metas", "v0", name); a.Ino != b.Ino {
		t.Fatalf("inode %d, then %d", a.Ino, b.Ino)
	}
}

func TestGeneratedFilesExactSizeAndBytes(t *testing.T) {
	f := newFixture(t, 4)
	tr := tree.New(f.db, "/mnt/out")
	c := f.clips[0]
	cases := []struct {
		path []string
		kind index.Kind
		ref  string
	}{
		{[]string{"metas", "v0", c.ID.String() + ".json"}, index.KindClipMeta, c.ID.String()},
		{[]string{"iv2_embd", c.ID.String() + ".pickle"}, index.KindEmbedPickle, "iv2/" + c.ID.String()},
		{[]string{"iv2_embd_parquet", f.chunk.ID.String() + ".parquet"}, index.KindEmbedParquet, "iv2/" + f.chunk.ID.String()},
		{[]string{"processed_videos", "a b", "ü.mp4.json"}, index.KindVideoMeta, "/videos/a b/ü.mp4"},
		{[]string{"processed_clip_chunks", "a b", "ü.mp4_0.json"}, index.KindChunkMeta, f.chunk.ID.String()},
	}
	for _, tc := range cases {
		t.Run(tc.path[len(tc.path)-1], func(t *testing.T) {
			e := f.walk(t, tc.path...)
			want, err := tr.Render(index.Entry{Name: tc.path[len(tc.path)-1], Kind: tc.kind, Ref: tc.ref})
			if err != nil {
				t.Fatal(err)
			}
			if e.Attr.Size != uint64(len(want)) {
				t.Fatalf("stat size %d, rendered %d", e.Attr.Size, len(want))
			}
			for _, chunk := range []uint32{1, 7, 4096} {
				if got := f.readAll(t, e.NodeId, e.Attr.Size, chunk); !bytes.Equal(got, want) {
					t.Fatalf("read in %d-byte pieces differs from the rendered bytes", chunk)
				}
			}
		})
	}
	meta, _ := tr.Render(index.Entry{Kind: index.KindClipMeta, Ref: c.ID.String()})
	if !bytes.Contains(meta, []byte(`"clip_location": "/mnt/out/clips/`+c.ID.String()+`.mp4"`)) {
		t.Errorf("clip_location not under the output path:\n%s", meta)
	}
	a, err := pack.Unpickle(f.readAll(t, f.walk(t, "iv2_embd", c.ID.String()+".pickle").NodeId, 1<<20, 4096))
	if err != nil || a.DType != pack.Float32 || fmt.Sprint(a.Shape) != "[1 512]" {
		t.Fatalf("pickle: %v %v %v", a.DType, a.Shape, err)
	}
}

func TestBlobReadAndMissing(t *testing.T) {
	f := newFixture(t, 3)
	c := f.clips[1]
	e := f.walk(t, "clips", c.ID.String()+".mp4")
	want, _ := os.ReadFile(treetest.LocalBlob(t, f.db, c.Media.Blob))
	if got := f.readAll(t, e.NodeId, e.Attr.Size, 333); !bytes.Equal(got, want) {
		t.Fatalf("blob bytes differ")
	}
	var out fuse.EntryOut
	if st := f.raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "nope", &out); st != fuse.ENOENT {
		t.Fatalf("missing name: %v, want ENOENT", st)
	}
	filtered := f.clips[2]
	if st := f.raw.Lookup(nil, &fuse.InHeader{NodeId: f.walk(t, "clips").NodeId}, filtered.ID.String()+".mp4", &out); st != fuse.ENOENT {
		t.Fatalf("filtered clip under clips/: %v", st)
	}
	f.walk(t, "filtered_clips", filtered.ID.String()+".mp4")
}

// TestCorruptBlobIsEIO: a blob whose bytes fail their digest is never
// served: its open gives EIO and one warning naming the file, however often
// it is opened; the other blobs are served.
func TestCorruptBlobIsEIO(t *testing.T) {
	f := newFixture(t, 3)
	var logged bytes.Buffer
	f.raw = newTestFS(f.db, slog.New(slog.NewTextHandler(&logged, nil)))
	bad, good := f.clips[0], f.clips[1]
	p := treetest.LocalBlob(t, f.db, bad.Media.Blob)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	e := f.walk(t, "clips", bad.ID.String()+".mp4")
	for range 2 {
		var open fuse.OpenOut
		if st := f.raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId}}, &open); st != fuse.EIO {
			t.Fatalf("open of a corrupt blob: %v, want EIO", st)
		}
	}
	name := "clips/" + bad.ID.String() + ".mp4"
	if n := strings.Count(logged.String(), "corrupt blob"); n != 1 || !strings.Contains(logged.String(), name) {
		t.Errorf("want one warning naming %s, got:\n%s", name, logged.String())
	}
	g := f.walk(t, "clips", good.ID.String()+".mp4")
	want, _ := os.ReadFile(treetest.LocalBlob(t, f.db, good.Media.Blob))
	if got := f.readAll(t, g.NodeId, g.Attr.Size, 4096); !bytes.Equal(got, want) {
		t.Fatal("a sound blob was not served")
	}
}
