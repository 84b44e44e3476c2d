package mount

import (
	"hash/fnv"
	"strings"
	"sync"

	"github.com/clipfs/clipfs/fs/tree"
	"github.com/clipfs/clipfs/index"
)

// The kernel names every file and folder it holds by a node ID, given in
// the LOOKUP or READDIRPLUS reply that introduced it, and keeps it until it
// sends FORGET for as many lookups as it was given. nodeTable is the map
// from node IDs back to (folder, name), and all the mount keeps per node.
//
// It is compact on purpose: `ls -l` of a folder of a million clips makes
// the kernel hold a million nodes. A node is 32 bytes in a slab (a clip's
// name, "<uuid>.mp4", is kept as the UUID's 16 bytes and the index of its
// suffix) and its node ID is its place there, so that the node itself is
// the only table from IDs; an open-addressing index of 8-byte slots finds a
// file's node from (folder, name) (a lookup of a name the kernel holds, and
// the live mount's invalidation). About 50 bytes a node in all, none of it
// pointers for the garbage collector to scan. Nothing else is kept per
// node: attributes come from the index when the kernel asks (it caches
// them for cacheTimeout), and open files keep their own state.
//
// A freed place is reused by a later node: the kernel may be given a node
// ID again once it has forgotten it. st_ino is a hash of (kind, folder
// path, name), stable across mounts (inodeNumber); node IDs are not.

// rootID is the root folder's node ID (FUSE_ROOT_ID): place 0.
const rootID = 1

// plainName marks a node whose name is not "<uuid><suffix>": it is kept
// in nodeTable.names.
const plainName = 0xffff

type node struct {
	id      [16]byte // the name's UUID, unless suffix is plainName
	lookups uint64   // the kernel's lookup count
	dir     uint32   // a folder: its own index in nodeTable.dirs; a file: its folder's
	suffix  uint16   // index into nodeTable.suffixes, or plainName
	kind    index.Kind
	// 0 (no kind) marks a free place
}

// folder is one folder the mount has seen; folders are few, and kept for
// the life of the mount.
type folder struct {
	path  string
	mtime int64
	node  uint64 // its node ID while the kernel holds it, else 0
}

// slabShift sizes the slab's chunks: 2^14 nodes, 512 KiB.
const slabShift = 14

// An index slot is empty (0), a freed node's (tombstone), or the low 32
// bits of its name's hash above its node ID: the hash places it when the
// index grows, and most probes that pass another name's slot tell it from
// the hash alone, without reading the node.
const tombstone = uint64(^uint32(0))

type nodeTable struct {
	mu    sync.Mutex
	slab  [][]node // node ID id is at place id-1
	n     int      // places ever used
	free  []uint32 // freed places
	index []uint64 // file nodes by hash of (folder, name), linear probing
	used  int      // index slots holding a node
	tombs int      // index slots holding a tombstone
	count int      // nodes held, the root included

	names    map[uint64]string // names of plainName nodes, by node ID
	dirs     []folder
	dirIndex map[string]uint32
	suffixes []string
	suffixOf map[string]uint16
}

func newNodeTable(rootMTime int64) *nodeTable {
	t := &nodeTable{
		names:    map[uint64]string{},
		dirIndex: map[string]uint32{"": 0},
		suffixOf: map[string]uint16{},
		dirs:     []folder{{path: "", mtime: rootMTime, node: rootID}},
		index:    make([]uint64, 1024),
	}
	id := t.allocLocked()
	*t.at(id) = node{kind: index.KindDir, lookups: 1, suffix: plainName}
	return t
}

// at is the node of ID id, which must have a place.
func (t *nodeTable) at(id uint64) *node {
	p := id - 1
	return &t.slab[p>>slabShift][p&(1<<slabShift-1)]
}

// getLocked is the node of ID id, if held.
func (t *nodeTable) getLocked(id uint64) (*node, bool) {
	if id == 0 || id > uint64(t.n) {
		return nil, false
	}
	n := t.at(id)
	return n, n.kind != 0
}

// allocLocked takes a free place and returns its node ID.
func (t *nodeTable) allocLocked() uint64 {
	t.count++
	if k := len(t.free); k > 0 {
		p := t.free[k-1]
		t.free = t.free[:k-1]
		return uint64(p) + 1
	}
	if t.n == len(t.slab)<<slabShift {
		t.slab = append(t.slab, make([]node, 1<<slabShift))
	}
	t.n++
	return uint64(t.n)
}

func (t *nodeTable) freeLocked(id uint64) {
	*t.at(id) = node{}
	t.free = append(t.free, uint32(id-1))
	t.count--
}

// hashName is the hash of name in folder dir that places it in the index.
func hashName(dir uint32, name string) uint32 {
	h := uint64(14695981039346656037) // FNV-1a, inlined: no allocation per entry
	for i := range 4 {
		h = (h ^ uint64(byte(dir>>(8*i)))) * 1099511628211
	}
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return uint32(h ^ h>>32)
}

// findLocked is the index slot of file name in folder dir: the node's, or
// the first free slot of its probe (where it would go) with ok false.
func (t *nodeTable) findLocked(dir uint32, name string) (slot int, ok bool) {
	h := hashName(dir, name)
	mask := len(t.index) - 1
	free := -1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch v := t.index[i]; {
		case v == 0:
			if free < 0 {
				free = i
			}
			return free, false
		case v == tombstone:
			if free < 0 {
				free = i
			}
		case uint32(v>>32) == h:
			if id := uint64(uint32(v)); t.matchesLocked(id, t.at(id), dir, name) {
				return i, true
			}
		}
	}
}

// slotID is the node ID in index slot v.
func slotID(v uint64) uint64 { return uint64(uint32(v)) }

// insertLocked files node id (a file name in folder dir) in the index, at
// slot (from findLocked), growing the index first when it is half full.
func (t *nodeTable) insertLocked(slot int, id uint64, dir uint32, name string) {
	if t.index[slot] == tombstone {
		t.tombs--
	}
	t.index[slot] = uint64(hashName(dir, name))<<32 | id
	t.used++
	if (t.used+t.tombs)*2 > len(t.index) {
		t.rehashLocked()
	}
}

// rehashLocked rebuilds the index without tombstones, twice the size when
// more than a quarter full.
func (t *nodeTable) rehashLocked() {
	size := len(t.index)
	if t.used*4 > size {
		size *= 2
	}
	old := t.index
	t.index = make([]uint64, size)
	mask := size - 1
	for _, v := range old {
		if v == 0 || v == tombstone {
			continue
		}
		i := int(v>>32) & mask
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = v
	}
	t.tombs = 0
}

// unindexLocked takes file node id out of the index.
func (t *nodeTable) unindexLocked(id uint64, n node) {
	if slot, ok := t.findLocked(n.dir, t.nameLocked(id, n)); ok && slotID(t.index[slot]) == id {
		t.index[slot] = tombstone
		t.used--
		t.tombs++
	}
}

// inodeNumber hashes (kind, folder, name): st_ino, stable across lookups,
// mounts and restarts. The root keeps 1.
func inodeNumber(kind index.Kind, dir, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(kind)})
	h.Write([]byte(dir))
	h.Write([]byte{0})
	h.Write([]byte(name))
	ino := h.Sum64()
	if ino <= 1 {
		ino += 2
	}
	return ino
}

// folderOf is the folder index of node id if it is a folder.
func (t *nodeTable) folderOf(id uint64) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.getLocked(id)
	if !ok || n.kind != index.KindDir {
		return 0, false
	}
	return n.dir, true
}

// dirPath is folder d's path.
func (t *nodeTable) dirPath(d uint32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dirs[d].path
}

// file is what a file node stands for.
type file struct {
	dir  string // its folder's path
	name string
	kind index.Kind
}

// fileOf resolves a file node; ok is false for folders and unknown IDs.
func (t *nodeTable) fileOf(id uint64) (file, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.getLocked(id)
	if !ok || n.kind == index.KindDir {
		return file{}, false
	}
	return file{dir: t.dirs[n.dir].path, name: t.nameLocked(id, *n), kind: n.kind}, true
}

// folderInfo is folder d's path and mtime.
func (t *nodeTable) folderInfo(d uint32) folder {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dirs[d]
}

func (t *nodeTable) nameLocked(id uint64, n node) string {
	if n.suffix == plainName {
		return t.names[id]
	}
	return formatUUID(n.id) + t.suffixes[n.suffix]
}

// matchesLocked reports whether file node n (ID id) is name in folder dir.
func (t *nodeTable) matchesLocked(id uint64, n *node, dir uint32, name string) bool {
	if n.dir != dir || n.kind == index.KindDir {
		return false
	}
	if n.suffix == plainName {
		return t.names[id] == name
	}
	u, suffix, ok := splitUUIDName(name)
	return ok && u == n.id && t.suffixes[n.suffix] == suffix
}

// addFile counts one lookup of file name (kind) in folder dir and returns
// its node ID, assigning one if the kernel holds none.
func (t *nodeTable) addFile(dir uint32, name string, kind index.Kind) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	slot, ok := t.findLocked(dir, name)
	if ok {
		id := slotID(t.index[slot])
		n := t.at(id)
		n.lookups++
		n.kind = kind // a name may change kind between commits
		return id
	}
	nd := node{dir: dir, kind: kind, lookups: 1, suffix: plainName}
	if u, suffix, ok := splitUUIDName(name); ok {
		if s, ok := t.suffixLocked(suffix); ok {
			nd.id, nd.suffix = u, s
		}
	}
	id := t.allocLocked()
	*t.at(id) = nd
	if nd.suffix == plainName {
		t.names[id] = strings.Clone(name)
	}
	t.insertLocked(slot, id, dir, name)
	return id
}

// suffixLocked interns suffix; ok is false once the table is full.
func (t *nodeTable) suffixLocked(suffix string) (uint16, bool) {
	if s, ok := t.suffixOf[suffix]; ok {
		return s, true
	}
	if len(t.suffixes) >= plainName || len(suffix) > 64 {
		return 0, false
	}
	s := uint16(len(t.suffixes))
	suffix = strings.Clone(suffix)
	t.suffixes = append(t.suffixes, suffix)
	t.suffixOf[suffix] = s
	return s, true
}

// addFolder counts one lookup of folder name (modified at mtime) in folder
// parent and returns its node ID and folder index.
func (t *nodeTable) addFolder(parent uint32, name string, mtime int64) (uint64, uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := tree.ChildPath(t.dirs[parent].path, name)
	d, ok := t.dirIndex[p]
	if !ok {
		d = uint32(len(t.dirs))
		t.dirs = append(t.dirs, folder{path: p})
		t.dirIndex[p] = d
	}
	t.dirs[d].mtime = mtime
	if id := t.dirs[d].node; id != 0 {
		t.at(id).lookups++
		return id, d
	}
	id := t.allocLocked()
	*t.at(id) = node{dir: d, kind: index.KindDir, lookups: 1, suffix: plainName}
	t.dirs[d].node = id
	return id, d
}

// addLookup counts one more lookup of a node the kernel holds ("." and
// ".."); false if it holds none of that ID.
func (t *nodeTable) addLookup(id uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.getLocked(id)
	if ok {
		n.lookups++
	}
	return ok
}

// forget takes n lookups off node id; it reports whether the kernel let go
// of the node (it is gone from the table then). The root is never dropped.
func (t *nodeTable) forget(id, nlookup uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.getLocked(id)
	if !ok || id == rootID {
		return false
	}
	if n.lookups > nlookup {
		n.lookups -= nlookup
		return false
	}
	if n.kind == index.KindDir {
		t.dirs[n.dir].node = 0
	} else {
		t.unindexLocked(id, *n)
	}
	if n.suffix == plainName {
		delete(t.names, id)
	}
	t.freeLocked(id)
	return true
}

// dirIndexOf is the index of folder path, if the mount has seen it.
func (t *nodeTable) dirIndexOf(path string) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.dirIndex[path]
	return d, ok
}

// heldFolder is the node ID of folder path if the kernel holds it.
func (t *nodeTable) heldFolder(path string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := t.dirIndex[path]; ok {
		return t.dirs[d].node
	}
	return 0
}

// heldChild is the node ID of name in folder path if the kernel holds one.
func (t *nodeTable) heldChild(path, name string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.dirIndex[path]
	if !ok {
		return 0
	}
	if c, ok := t.dirIndex[tree.ChildPath(path, name)]; ok && t.dirs[c].node != 0 {
		return t.dirs[c].node
	}
	if slot, ok := t.findLocked(d, name); ok {
		return slotID(t.index[slot])
	}
	return 0
}

// held is how many nodes the kernel holds, the root included.
func (t *nodeTable) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// splitUUIDName splits "<uuid><suffix>" where the UUID is in canonical
// lowercase form (as clipfs names clips, metas and embeddings), so that
// formatUUID gives the name back.
func splitUUIDName(name string) (u [16]byte, suffix string, ok bool) {
	if len(name) < 36 {
		return u, "", false
	}
	j := 0
	for i := 0; i < 36; {
		switch i {
		case 8, 13, 18, 23:
			if name[i] != '-' {
				return u, "", false
			}
			i++
			continue
		}
		hi, ok1 := lowerHex(name[i])
		lo, ok2 := lowerHex(name[i+1])
		if !ok1 || !ok2 {
			return u, "", false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, name[36:], true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u [16]byte) string {
	const hex = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range u {
		switch i {
		case 4, 6, 8, 10:
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hex[c>>4], hex[c&15]
		j += 2
	}
	return string(b[:])
}
