package index

import (
	"slices"
	"sync"
)

// fileCache keeps a shard's recently read blobs open, so that a read costs
// one ReadAt (for a folder store, one pread: no open, close or failed
// poller registration per FUSE request) and the kernel's readahead state,
// which lives in the open file, carries from one request to the next.
type fileCache struct {
	mu    sync.Mutex
	max   int
	open  func(name string) (BlobReader, error)
	files map[string]*cachedFile
	lru   []string // least recently used first
}

type cachedFile struct {
	r       BlobReader
	refs    int
	evicted bool
}

func newFileCache(max int, open func(name string) (BlobReader, error)) *fileCache {
	return &fileCache{max: max, open: open, files: map[string]*cachedFile{}}
}

// get returns blob name, open; the caller must put it back.
func (c *fileCache) get(name string) (*cachedFile, error) {
	c.mu.Lock()
	if cf, ok := c.files[name]; ok {
		cf.refs++
		c.touch(name)
		c.mu.Unlock()
		return cf, nil
	}
	c.mu.Unlock()
	r, err := c.open(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf, ok := c.files[name]; ok { // opened meanwhile by another reader
		r.Close()
		cf.refs++
		c.touch(name)
		return cf, nil
	}
	cf := &cachedFile{r: r, refs: 1}
	c.files[name] = cf
	c.lru = append(c.lru, name)
	c.evict()
	return cf, nil
}

// put releases a blob from get; an evicted one closes with its last user.
func (c *fileCache) put(cf *cachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
	if cf.evicted && cf.refs == 0 {
		cf.r.Close()
	}
}

// close closes every blob no reader holds (the shard's inode is forgotten).
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = 0
	c.evict()
}

func (c *fileCache) touch(name string) {
	if i := slices.Index(c.lru, name); i >= 0 && i != len(c.lru)-1 {
		c.lru = append(slices.Delete(c.lru, i, i+1), name)
	}
}

// evict drops the least recently used blobs beyond max; c.mu held.
func (c *fileCache) evict() {
	for len(c.lru) > c.max {
		name := c.lru[0]
		c.lru = c.lru[1:]
		cf := c.files[name]
		delete(c.files, name)
		cf.evicted = true
		if cf.refs == 0 {
			cf.r.Close()
		}
	}
}
