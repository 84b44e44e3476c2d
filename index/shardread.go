package index

import (
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
)

// ShardFile is one member of a shard as its tar lists it.
type ShardFile struct {
	Name  string // <key>.<ext>
	Ext   string
	Clip  uuid.UUID // the sample's clip
	Size  int64
	MTime int64
}

// ShardContent is a shard's members in served order and the means to read
// their bytes: member snapshots from the index, media from blob files kept
// open across reads. Safe for concurrent use; Close when done.
type ShardContent struct {
	Files   []ShardFile
	db      *DB
	members []ShardMember
	files   *fileCache
}

// openBlobsPerShard is how many blob files a shard keeps open: enough for
// readahead and a few concurrent readers, few enough for thousands of shards.
const openBlobsPerShard = 8

// OpenShardContent loads shard n's member list.
func (db *DB) OpenShardContent(n int) (*ShardContent, error) {
	samples, err := db.ShardSamples(n)
	if err != nil {
		return nil, err
	}
	c := &ShardContent{db: db, files: newFileCache(openBlobsPerShard)}
	for _, s := range samples {
		for _, m := range s.Members {
			c.Files = append(c.Files, ShardFile{Name: s.Key + "." + m.Ext, Ext: m.Ext, Clip: s.Clip, Size: m.Size, MTime: s.MTime})
			c.members = append(c.members, m)
		}
	}
	return c, nil
}

// ReadMember fills p from member i at offset off: all of p, or an error.
func (c *ShardContent) ReadMember(i int, p []byte, off int64) (int, error) {
	m := c.members[i]
	if m.Blob == "" {
		if off+int64(len(p)) > int64(len(m.Data)) {
			return 0, errors.New("member snapshot shorter than its size")
		}
		return copy(p, m.Data[off:]), nil
	}
	cf, err := c.files.get(c.db.BlobPath(m.Blob))
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", m.Blob, err)
	}
	defer c.files.put(cf)
	n, err := cf.f.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, fmt.Errorf("blob %s: %w", m.Blob, err)
}

// Close closes the blob files the content keeps open.
func (c *ShardContent) Close() { c.files.close() }
