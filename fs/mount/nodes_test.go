package mount

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func TestUUIDNamesRoundTrip(t *testing.T) {
	id := uuid.New()
	for _, suffix := range []string{".mp4", ".json", "", "_0.json"} {
		name := id.String() + suffix
		u, s, ok := splitUUIDName(name)
		if !ok || s != suffix || formatUUID(u)+s != name || uuid.UUID(u) != id {
			t.Fatalf("%q: %x %q %v", name, u, s, ok)
		}
	}
	// Not the canonical form: kept as plain names, so that they read back
	// as they were listed.
	for _, name := range []string{strings.ToUpper(id.String()) + ".mp4", "{" + id.String() + "}", id.String()[:35], "shard-000001.tar", "a b"} {
		if _, _, ok := splitUUIDName(name); ok {
			t.Errorf("%q taken for a UUID name", name)
		}
	}
}

// TestNodeTableNames: every kind of name reads back from its node, and the
// same name in the same folder is the same node with its lookups counted.
func TestNodeTableNames(t *testing.T) {
	nt := newNodeTable(0)
	clipsID, clips := nt.addFolder(0, "clips", 5)
	id := uuid.New()
	names := []string{id.String() + ".mp4", strings.ToUpper(id.String()) + ".mp4", "shard-000001.tar", "ü b.mp4.json"}
	ids := map[uint64]bool{}
	for _, name := range names {
		n := nt.addFile(clips, name, index.KindBlob)
		if ids[n] || n == clipsID || n == rootID {
			t.Fatalf("%q got node %d, taken", name, n)
		}
		ids[n] = true
		f, ok := nt.fileOf(n)
		if !ok || f.name != name || f.dir != "clips" || f.kind != index.KindBlob {
			t.Fatalf("%q reads back as %+v %v", name, f, ok)
		}
		if again := nt.addFile(clips, name, index.KindBlob); again != n {
			t.Fatalf("%q: node %d, then %d", name, n, again)
		}
		if held := nt.heldChild("clips", name); held != n {
			t.Fatalf("%q held as %d, want %d", name, held, n)
		}
	}
	if got := nt.heldFolder("clips"); got != clipsID {
		t.Fatalf("folder held as %d, want %d", got, clipsID)
	}
	if held := nt.heldChild("clips", "nope"); held != 0 {
		t.Fatalf("a name never looked up is held as %d", held)
	}
}

// TestNodeTableCollision: names whose probes start at the same index slot
// all resolve, also once the first of them is forgotten (its slot keeps the
// probe going), and the index grows and shrinks its tombstones without
// losing a node.
func TestNodeTableCollision(t *testing.T) {
	nt := newNodeTable(0)
	_, clips := nt.addFolder(0, "clips", 5)
	mask := uint32(len(nt.index) - 1)
	first := uuid.New().String() + ".mp4"
	names := []string{first}
	for len(names) < 3 {
		if n := uuid.New().String() + ".mp4"; hashName(clips, n)&mask == hashName(clips, first)&mask {
			names = append(names, n)
		}
	}
	ids := map[string]uint64{}
	for _, n := range names {
		ids[n] = nt.addFile(clips, n, index.KindBlob)
	}
	if !nt.forget(ids[first], 1) {
		t.Fatal("first not dropped")
	}
	for _, n := range names[1:] {
		if got := nt.heldChild("clips", n); got != ids[n] {
			t.Fatalf("%s held as %d after the first was forgotten, want %d", n, got, ids[n])
		}
		if again := nt.addFile(clips, n, index.KindBlob); again != ids[n] {
			t.Fatalf("%s looked up again: node %d, want %d", n, again, ids[n])
		}
	}
	// many more names, half of them forgotten: the index grows and sheds
	// tombstones
	more := map[string]uint64{}
	for i := range 5000 {
		n := fmt.Sprintf("shard-%06d.tar", i)
		more[n] = nt.addFile(clips, n, index.KindShard)
		if i%2 == 0 {
			nt.forget(more[n], 1)
			delete(more, n)
		}
	}
	for n, id := range more {
		if got := nt.heldChild("clips", n); got != id {
			t.Fatalf("%s held as %d, want %d", n, got, id)
		}
		if f, _ := nt.fileOf(id); f.name != n {
			t.Fatalf("node %d reads %q, want %q", id, f.name, n)
		}
	}
	if got, want := nt.held(), 1+1+2+len(more); got != want {
		t.Fatalf("%d nodes held, want %d", got, want)
	}
}

func TestNodeTableForget(t *testing.T) {
	nt := newNodeTable(0)
	dirID, clips := nt.addFolder(0, "clips", 5)
	name := uuid.New().String() + ".mp4"
	n := nt.addFile(clips, name, index.KindBlob)
	nt.addFile(clips, name, index.KindBlob)
	if nt.forget(n, 1) {
		t.Fatal("dropped with one lookup left")
	}
	if _, ok := nt.fileOf(n); !ok {
		t.Fatal("gone with one lookup left")
	}
	if !nt.forget(n, 1) {
		t.Fatal("not dropped at zero lookups")
	}
	if _, ok := nt.fileOf(n); ok || nt.heldChild("clips", name) != 0 {
		t.Fatal("still held after its last forget")
	}
	if !nt.forget(dirID, 1) || nt.heldFolder("clips") != 0 {
		t.Fatal("folder still held after its last forget")
	}
	if nt.forget(rootID, 1) || nt.held() != 1 {
		t.Fatalf("root dropped, or nodes left: %d", nt.held())
	}
	// the folder comes back with its path
	id2, clips2 := nt.addFolder(0, "clips", 6)
	if clips2 != clips || nt.heldFolder("clips") != id2 || nt.folderInfo(clips2).mtime != 6 {
		t.Fatal("folder not found again")
	}
}

// TestListingCountsLookups: READDIRPLUS counts a lookup per entry it
// enters, LOOKUP one more; once the kernel forgets them all, only the root
// is held: a mount that listed millions of clips holds nothing of them once
// the kernel lets go.
func TestListingCountsLookups(t *testing.T) {
	f := newFixture(t, 40)
	fs := f.raw.(*rawFS)
	clips := f.walk(t, "clips")
	listed := f.listPlus(t, clips.NodeId)
	counts := map[uint64]uint64{clips.NodeId: 1}
	for name, e := range listed {
		if name == "." || name == ".." {
			if e.NodeId != 0 {
				t.Fatalf("%s entered as node %d", name, e.NodeId)
			}
			continue
		}
		counts[e.NodeId]++
		if l := f.lookup(t, clips.NodeId, name); l.NodeId != e.NodeId {
			t.Fatalf("%s: lookup node %d, listed %d", name, l.NodeId, e.NodeId)
		}
		counts[e.NodeId]++
	}
	if got, want := fs.nodes.held(), len(counts)+1; got != want {
		t.Fatalf("%d nodes held, want %d", got, want)
	}
	for id, n := range counts {
		fs.Forget(id, n)
	}
	if got := fs.nodes.held(); got != 1 {
		t.Fatalf("%d nodes held after every forget, want the root only", got)
	}
	var out fuse.AttrOut
	for id := range counts {
		if st := fs.GetAttr(nil, &fuse.GetAttrIn{InHeader: fuse.InHeader{NodeId: id}}, &out); st != fuse.ENOENT {
			t.Fatalf("getattr of forgotten node %d: %v", id, st)
		}
	}
}

// TestReaddirSeek: a listing resumed at an earlier offset (seekdir, or a
// reply lost to an interrupt) gives the same entries from there.
func TestReaddirSeek(t *testing.T) {
	f := newFixture(t, 30)
	clips := f.walk(t, "clips")
	var open fuse.OpenOut
	f.raw.OpenDir(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: clips.NodeId}}, &open)
	read := func(off uint64, size int) []fuse.DirEntry {
		buf := make([]byte, size)
		list := fuse.NewDirEntryList(buf, off)
		if st := f.raw.ReadDir(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: clips.NodeId}, Fh: open.Fh, Offset: off, Size: uint32(size)}, list); st != fuse.OK {
			t.Fatal(st)
		}
		ents, err := fuse.ParseDirEntries(list.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return ents
	}
	all := read(0, 1<<16)
	if len(all) < 10 {
		t.Fatalf("%d entries", len(all))
	}
	part := read(0, 200) // a few entries only
	if len(part) == 0 || len(part) >= len(all) {
		t.Fatalf("a small buffer took %d of %d entries", len(part), len(all))
	}
	rest := read(part[len(part)-1].Off, 1<<16)
	if len(part)+len(rest) != len(all) || rest[0].Name != all[len(part)].Name {
		t.Fatalf("resumed listing: %d + %d entries of %d", len(part), len(rest), len(all))
	}
	back := read(all[4].Off, 1<<16) // backwards: from the 6th entry
	if len(back) != len(all)-5 || back[0].Name != all[5].Name || back[0].Ino != all[5].Ino {
		t.Fatalf("seek back: %d entries from %q, want %d from %q", len(back), back[0].Name, len(all)-5, all[5].Name)
	}
}
