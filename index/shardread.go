package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

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
// their bytes: member snapshots from the index, media from blobs kept open
// across reads. A blob member is verified against its digest before
// its first read (DB.VerifyBlob); one that fails gives ErrCorrupt. Safe for
// concurrent use; Close when done.
type ShardContent struct {
	Files    []ShardFile
	db       *DB
	members  []ShardMember
	verified []atomic.Bool // member i passed verification
	blobs    []int         // the blob members' indices, in order
	blobPos  []int         // member i's position in blobs (-1: a snapshot)
	touched  []atomic.Bool // blobs[k] was read
	ahead    []atomic.Bool // blobs[k]'s verification was started ahead of its read
	last     atomic.Int64  // the position in blobs first read last
	run      atomic.Int64  // blob members first read in order, in a row
	maxAhead int           // members verified ahead of an in-order reader
	files    *fileCache
}

// openBlobsPerShard is how many blobs a shard keeps open: enough for
// readahead and a few concurrent readers, few enough for thousands of shards.
const openBlobsPerShard = 8

// Members verified ahead of a reader taking them in order: one for a store
// of local files; for a store that fetches blobs (a cache in front of an
// object store), verifying fetches, so the window doubles with each member
// read in order up to maxFetchAhead members and fetchAheadBytes, and that
// many fetches run at once.
const (
	maxFetchAhead   = 8
	fetchAheadBytes = 64 << 20
)

// OpenShardContent loads shard n's member list.
func (db *DB) OpenShardContent(n int) (*ShardContent, error) {
	samples, err := db.ShardSamples(n)
	if err != nil {
		return nil, err
	}
	open := func(name string) (BlobReader, error) { return db.blobs.Open(context.Background(), name) }
	c := &ShardContent{db: db, files: newFileCache(openBlobsPerShard, open), maxAhead: 1}
	if _, fetching := db.blobs.(FetchingBlobStore); fetching {
		c.maxAhead = maxFetchAhead
	}
	for _, s := range samples {
		for _, m := range s.Members {
			c.Files = append(c.Files, ShardFile{Name: s.Key + "." + m.Ext, Ext: m.Ext, Clip: s.Clip, Size: m.Size, MTime: s.MTime})
			c.members = append(c.members, m)
		}
	}
	c.verified = make([]atomic.Bool, len(c.members))
	for i, m := range c.members {
		c.blobPos = append(c.blobPos, -1)
		if m.Blob != "" {
			c.blobPos[i] = len(c.blobs)
			c.blobs = append(c.blobs, i)
		}
	}
	c.touched = make([]atomic.Bool, len(c.blobs))
	c.ahead = make([]atomic.Bool, len(c.blobs))
	c.last.Store(-1) // reading the first blob member counts as in order
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
	if err := c.verify(i); err != nil {
		return 0, err
	}
	cf, err := c.files.get(m.Blob)
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", m.Blob, err)
	}
	defer c.files.put(cf)
	n, err := cf.r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, fmt.Errorf("blob %s: %w", m.Blob, err)
}

// MemberFile is member i's blob as an open local file, verified as
// ReadMember verifies it, for a reader that hands the descriptor to the
// kernel (the mount splices file data into its replies). ok is false, with
// a nil error, for a snapshot member or a blob its store keeps in no local
// file: read those with ReadMember. The file stays open until release is
// called, which must be once.
func (c *ShardContent) MemberFile(i int) (f *os.File, release func(), ok bool, err error) {
	m := c.members[i]
	if m.Blob == "" {
		return nil, nil, false, nil
	}
	if err := c.verify(i); err != nil {
		return nil, nil, false, err
	}
	cf, err := c.files.get(m.Blob)
	if err != nil {
		return nil, nil, false, fmt.Errorf("blob %s: %w", m.Blob, err)
	}
	fb, local := cf.r.(*fileBlob)
	if !local || fb.size < m.Size {
		c.files.put(cf)
		return nil, nil, false, nil // ReadMember says what is wrong with a short one
	}
	return fb.f, func() { c.files.put(cf) }, true, nil
}

// verify checks blob member i before it is first read. A reader taking the
// blob members in order (a tar or WebDataset stream) has the next ones
// verified in the background meanwhile, so that it need not wait for them
// (aheadOf). A reader jumping about (wids) seldom reads two in a row, so it
// seldom sets off the verification of a member it then skips.
func (c *ShardContent) verify(i int) error {
	pos := c.blobPos[i]
	if !c.touched[pos].Swap(true) {
		if c.last.Swap(int64(pos)) == int64(pos-1) {
			c.verifyAhead(pos, c.run.Add(1))
		} else {
			c.run.Store(0)
		}
	}
	if c.verified[i].Load() {
		return nil
	}
	if err := c.db.verifyMember(c.members[i]); err != nil {
		return err
	}
	c.verified[i].Store(true)
	return nil
}

// verifyAhead starts the background verification of the blob members
// after position pos, run members having been read in order: 1, 2, 4 ...
// of them up to c.maxAhead (and fetchAheadBytes). Only members with their
// own digest: it needs no index read, which could outlive the database.
func (c *ShardContent) verifyAhead(pos int, run int64) {
	n := c.maxAhead
	if run < 4 {
		n = min(n, 1<<(run-1))
	}
	var bytes int64
	for k := pos + 1; k < len(c.blobs) && k <= pos+n && bytes < fetchAheadBytes; k++ {
		next := c.blobs[k]
		bytes += c.members[next].Size
		if _, ok := memberDigest(c.members[next]); !ok || c.verified[next].Load() || c.ahead[k].Swap(true) {
			continue
		}
		go func() {
			if c.db.verifyMember(c.members[next]) == nil {
				c.verified[next].Store(true)
			}
		}()
	}
}

// Close closes the blobs the content keeps open.
func (c *ShardContent) Close() { c.files.close() }
