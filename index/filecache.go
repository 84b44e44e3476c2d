package index

import (
	"os"
	"slices"
	"sync"
)

// fileCache keeps a shard's recently read blob files open, so that a read
// costs one pread (no open, close or failed poller registration per FUSE
// request) and the kernel's readahead state, which lives in the open file,
// carries from one request to the next.
type fileCache struct {
	mu    sync.Mutex
	max   int
	files map[string]*cachedFile
	lru   []string // least recently used first
}

type cachedFile struct {
	f       *os.File
	refs    int
	evicted bool
}

func newFileCache(max int) *fileCache {
	return &fileCache{max: max, files: map[string]*cachedFile{}}
}

// get returns path's open file; the caller must put it back.
func (c *fileCache) get(path string) (*cachedFile, error) {
	c.mu.Lock()
	if cf, ok := c.files[path]; ok {
		cf.refs++
		c.touch(path)
		c.mu.Unlock()
		return cf, nil
	}
	c.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf, ok := c.files[path]; ok { // opened meanwhile by another reader
		f.Close()
		cf.refs++
		c.touch(path)
		return cf, nil
	}
	cf := &cachedFile{f: f, refs: 1}
	c.files[path] = cf
	c.lru = append(c.lru, path)
	c.evict()
	return cf, nil
}

// put releases a file from get; an evicted file closes with its last user.
func (c *fileCache) put(cf *cachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
	if cf.evicted && cf.refs == 0 {
		cf.f.Close()
	}
}

// close closes every file no reader holds (the shard's inode is forgotten).
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = 0
	c.evict()
}

func (c *fileCache) touch(path string) {
	if i := slices.Index(c.lru, path); i >= 0 && i != len(c.lru)-1 {
		c.lru = append(slices.Delete(c.lru, i, i+1), path)
	}
}

// evict drops the least recently used files beyond max; c.mu held.
func (c *fileCache) evict() {
	for len(c.lru) > c.max {
		path := c.lru[0]
		c.lru = c.lru[1:]
		cf := c.files[path]
		delete(c.files, path)
		cf.evicted = true
		if cf.refs == 0 {
			cf.f.Close()
		}
	}
}
