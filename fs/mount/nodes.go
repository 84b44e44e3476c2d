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
// the kernel hold a million nodes, so a node is 32 bytes in a map (a
// clip's name, "<uuid>.mp4", is kept as the UUID's 16 bytes and the index
// of its suffix), about 50 bytes with the map's own overhead. Nothing else
// is kept per node: attributes come from the index when the kernel asks
// (it caches them for cacheTimeout), and open files keep their own state.
//
// A node ID is a hash of (folder, name), probed forward past IDs held by
// other names, so finding the ID of a name (for invalidation) needs no
// second map. st_ino is another hash, of (kind, folder path, name),
// stable across mounts (inodeNumber); node IDs are not.

// rootID is the root folder's node ID (FUSE_ROOT_ID).
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
}

// folder is one folder the mount has seen; folders are few, and kept for
// the life of the mount.
type folder struct {
	path  string
	mtime int64
	node  uint64 // its node ID while the kernel holds it, else 0
}

type nodeTable struct {
	mu       sync.Mutex
	nodes    map[uint64]node
	names    map[uint64]string // names of plainName nodes
	dirs     []folder
	dirIndex map[string]uint32
	suffixes []string
	suffixOf map[string]uint16
}

func newNodeTable(rootMTime int64) *nodeTable {
	t := &nodeTable{
		nodes:    map[uint64]node{},
		names:    map[uint64]string{},
		dirIndex: map[string]uint32{"": 0},
		suffixOf: map[string]uint16{},
		dirs:     []folder{{path: "", mtime: rootMTime, node: rootID}},
	}
	t.nodes[rootID] = node{kind: index.KindDir, lookups: 1, suffix: plainName}
	return t
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

// firstID is where the probe for the node ID of name in folder dir starts.
func firstID(dir uint32, name string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a, inlined: no allocation per entry
	for i := range 4 {
		h = (h ^ uint64(byte(dir>>(8*i)))) * 1099511628211
	}
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	if h <= rootID {
		h += 2
	}
	return h
}

func nextID(id uint64) uint64 {
	if id++; id <= rootID {
		id = rootID + 1
	}
	return id
}

// folderOf is the folder index of node id if it is a folder.
func (t *nodeTable) folderOf(id uint64) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[id]
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
	n, ok := t.nodes[id]
	if !ok || n.kind == index.KindDir {
		return file{}, false
	}
	return file{dir: t.dirs[n.dir].path, name: t.nameLocked(id, n), kind: n.kind}, true
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

// matchesLocked reports whether node n (ID id) is name in folder dir.
func (t *nodeTable) matchesLocked(id uint64, n node, dir uint32, name string) bool {
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
	id := firstID(dir, name)
	for {
		n, ok := t.nodes[id]
		if !ok {
			break
		}
		if t.matchesLocked(id, n, dir, name) {
			n.lookups++
			n.kind = kind // a name may change kind between commits
			t.nodes[id] = n
			return id
		}
		id = nextID(id) // another name with the same hash: rare
	}
	n := node{dir: dir, kind: kind, lookups: 1, suffix: plainName}
	if u, suffix, ok := splitUUIDName(name); ok {
		if s, ok := t.suffixLocked(suffix); ok {
			n.id, n.suffix = u, s
		}
	}
	if n.suffix == plainName {
		t.names[id] = name
	}
	t.nodes[id] = n
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
		n := t.nodes[id]
		n.lookups++
		t.nodes[id] = n
		return id, d
	}
	id := firstID(parent, name)
	for {
		if _, taken := t.nodes[id]; !taken {
			break
		}
		id = nextID(id)
	}
	t.nodes[id] = node{dir: d, kind: index.KindDir, lookups: 1, suffix: plainName}
	t.dirs[d].node = id
	return id, d
}

// addLookup counts one more lookup of a node the kernel holds ("." and
// ".."); false if it holds none of that ID.
func (t *nodeTable) addLookup(id uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[id]
	if ok {
		n.lookups++
		t.nodes[id] = n
	}
	return ok
}

// forget takes n lookups off node id; it reports whether the kernel let go
// of the node (it is gone from the table then). The root is never dropped.
func (t *nodeTable) forget(id, nlookup uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.nodes[id]
	if !ok || id == rootID {
		return false
	}
	if n.lookups > nlookup {
		n.lookups -= nlookup
		t.nodes[id] = n
		return false
	}
	delete(t.nodes, id)
	if n.suffix == plainName {
		delete(t.names, id)
	}
	if n.kind == index.KindDir {
		t.dirs[n.dir].node = 0
	}
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
	for id := firstID(d, name); ; id = nextID(id) {
		n, ok := t.nodes[id]
		if !ok {
			return 0
		}
		if t.matchesLocked(id, n, d, name) {
			return id
		}
	}
}

// count is how many nodes the kernel holds.
func (t *nodeTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.nodes)
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
