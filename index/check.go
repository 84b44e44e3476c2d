package index

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// ReadData reads every blob and compares it with the SHA-256 digest
	// recorded when it was adopted.
	ReadData bool
	// Progress, if set, is called every so often, and once at the end,
	// with the counts so far.
	Progress func(CheckStats)
}

// CheckStats count what Check looked at.
type CheckStats struct {
	// Records counts the records and tree entries read (v/ k/ c/ n/ S/ s/).
	Records int
	// Blobs counts the blobs checked: those records name and those the
	// blob store lists.
	Blobs int
	// BlobsTotal is how many blobs there are to check, once known.
	BlobsTotal int
	Problems   int
	// NoDigest counts blobs with no recorded digest (adopted before clipfs
	// recorded digests): with ReadData, their content cannot be verified.
	NoDigest int
	// BytesRead counts the blob bytes hashed (ReadData), of BytesTotal.
	BytesRead, BytesTotal int64
}

// Problem is one inconsistency Check found.
type Problem struct {
	// Subject is what is wrong: "blob NAME (clip UUID)", "entry clips/UUID.mp4",
	// "shard wds/shard-000000.tar", "clip UUID".
	Subject string
	Detail  string
}

func (p Problem) String() string { return p.Subject + ": " + p.Detail }

// Check verifies the database the way `restic check` does a repository:
// every record's blob exists with its recorded size, every blob in the
// store is referenced, shard samples name live members, and tree entries
// agree with their records; with ReadData, every blob's bytes match their
// digest. It calls report (from one goroutine, in the order found) for
// each problem and returns the counts. The error is for a check that could
// not run to its end.
func (db *DB) Check(ctx context.Context, opts CheckOptions, report func(Problem)) (CheckStats, error) {
	if report == nil {
		report = func(Problem) {}
	}
	c := &checker{db: db, ctx: ctx, opts: opts, report: report,
		blobs: map[string]*blobUse{}, clips: map[uuid.UUID]*clipFacts{}, chunks: map[uuid.UUID]bool{},
		videos: map[string]bool{}, dirs: map[string]bool{"": true}, shardEntries: map[int]int64{}}
	err := db.view(func(txn *badger.Txn) error {
		for _, step := range []func(*badger.Txn) error{c.blobKeys, c.videoRecords, c.chunkRecords, c.clipRecords, c.treeEntries, c.shards} {
			if err := step(txn); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = c.blobFiles()
	}
	if err == nil {
		err = c.uploads()
	}
	if err != nil {
		return c.st, fmt.Errorf("index: check %s: %w", db.dir, err)
	}
	if opts.Progress != nil {
		opts.Progress(c.st)
	}
	return c.st, nil
}

type checker struct {
	db     *DB
	ctx    context.Context
	opts   CheckOptions
	report func(Problem)
	st     CheckStats
	shown  time.Time // last progress call

	blobs        map[string]*blobUse
	clips        map[uuid.UUID]*clipFacts
	chunks       map[uuid.UUID]bool
	videos       map[string]bool
	dirs         map[string]bool // folders with an entry
	shardEntries map[int]int64   // shards listed under wds/, with their entry size
}

// blobUse is everything the index says of one blob.
type blobUse struct {
	ref    bool // a b/ key references it
	digest blobDigest
	hasSum bool // the b/ key records a digest
	shard  int  // the shard its B/ key names; -1 none
	users  []blobUser
}

// blobUser is one record naming a blob, with the size it records.
type blobUser struct {
	who    string // "clip UUID", "wds/shard-000000.tar member KEY.mp4", "entry index.parquet"
	size   int64
	shard  int // the shard of a member; -1 for other users
	sum    blobDigest
	hasSum bool // a member's own digest
}

// clipFacts are what the tree checks need of a clip record.
type clipFacts struct {
	blob        string // "" when not stored
	size        int64
	filtered    bool
	previews    map[string]Preview // by file name S_E.webp
	media       bool               // its clips/ or filtered_clips/ entry was seen
	meta        bool               // its metas/v0 entry was seen
	previewSeen int                // entries under previews/<uuid>/ naming its previews
}

func (c *checker) problem(subject, format string, args ...any) {
	c.st.Problems++
	c.report(Problem{Subject: subject, Detail: fmt.Sprintf(format, args...)})
}

// record counts one record read and reports progress now and then.
func (c *checker) record() error {
	c.st.Records++
	if c.st.Records%1024 == 0 {
		c.progress()
		return c.ctx.Err()
	}
	return nil
}

func (c *checker) progress() {
	if c.opts.Progress != nil && time.Since(c.shown) >= 100*time.Millisecond {
		c.shown = time.Now()
		c.opts.Progress(c.st)
	}
}

func (c *checker) blob(name string) *blobUse {
	u := c.blobs[name]
	if u == nil {
		u = &blobUse{shard: -1}
		c.blobs[name] = u
	}
	return u
}

func (c *checker) use(name string, u blobUser) {
	b := c.blob(name)
	b.users = append(b.users, u)
}

// scan calls fn with every key under prefix and its value, in key order.
func scan(txn *badger.Txn, prefix string, fn func(key string, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		key := string(it.Item().Key())
		if err := it.Item().Value(func(v []byte) error { return fn(key, v) }); err != nil {
			return err
		}
	}
	return nil
}

// blobKeys reads the b/ references with their digests and the B/ keys of
// blobs held by shards.
func (c *checker) blobKeys(txn *badger.Txn) error {
	err := scan(txn, "b/", func(key string, v []byte) error {
		name := key[len("b/"):]
		b := c.blob(name)
		b.ref = true
		d, ok, err := decodeDigest(v)
		if err != nil {
			c.problem("blob "+name, "b/ key holds a bad digest: %v", err)
		}
		b.digest, b.hasSum = d, ok
		return nil
	})
	if err != nil {
		return err
	}
	return scan(txn, "B/", func(key string, v []byte) error {
		name := key[len("B/"):]
		n, err := strconv.Atoi(string(v))
		if err != nil {
			c.problem("blob "+name, "B/ key holds %q, not a shard number", v)
			return nil
		}
		c.blob(name).shard = n
		return nil
	})
}

func (c *checker) videoRecords(txn *badger.Txn) error {
	var chunksOf []VideoRecord
	err := scanJSONTxn(txn, "v/", func(key string, v VideoRecord, err error) error {
		if err != nil {
			c.problem("video "+key[len("v/"):], "%v", err)
		} else {
			c.videos[v.Source] = true
			chunksOf = append(chunksOf, v)
		}
		return c.record()
	})
	if err != nil {
		return err
	}
	for _, v := range chunksOf {
		for _, ch := range v.ChunksDone {
			if _, err := txn.Get(chunkKey(ch.ID)); errors.Is(err, badger.ErrKeyNotFound) {
				c.problem("video "+v.Source, "committed chunk %d (%s) has no chunk record", ch.Index, ch.ID)
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) chunkRecords(txn *badger.Txn) error {
	return scanJSONTxn(txn, "k/", func(key string, ch ChunkRecord, err error) error {
		if err != nil {
			c.problem("chunk "+key[len("k/"):], "%v", err)
			return c.record()
		}
		c.chunks[ch.ID] = true
		if !c.videos[ch.Source] {
			c.problem("chunk "+ch.ID.String(), "its video %s has no record", ch.Source)
		}
		return c.record()
	})
}

// clipRecords makes each stored clip and preview a user of its blob.
func (c *checker) clipRecords(txn *badger.Txn) error {
	return scanJSONTxn(txn, "c/", func(key string, cr ClipRecord, err error) error {
		if err != nil {
			c.problem("clip "+key[len("c/"):], "%v", err)
			return c.record()
		}
		id := cr.ID.String()
		if !c.chunks[cr.Chunk] {
			c.problem("clip "+id, "its chunk %s has no record", cr.Chunk)
		}
		f := &clipFacts{filtered: cr.Filtered}
		c.clips[cr.ID] = f
		if cr.Stored() {
			f.blob, f.size = cr.Media.Blob, cr.Media.NumBytes
			c.use(f.blob, blobUser{who: "clip " + id, size: f.size, shard: -1})
		}
		for _, p := range cr.Previews {
			if cr.Filtered {
				break // a filtered clip's previews are not served (clipTree)
			}
			name := fmt.Sprintf("%d_%d.webp", p.Start, p.End)
			if f.previews == nil {
				f.previews = map[string]Preview{}
			}
			f.previews[name] = p
			c.use(p.Blob, blobUser{who: "clip " + id + " preview " + name, size: p.Size, shard: -1})
		}
		return c.record()
	})
}

// scanJSONTxn decodes every record under prefix; fn gets the decoding error
// of a corrupt one.
func scanJSONTxn[T any](txn *badger.Txn, prefix string, fn func(key string, v T, err error) error) error {
	return scan(txn, prefix, func(key string, b []byte) error {
		var v T
		err := jsonUnmarshal(b, &v)
		if err != nil {
			err = fmt.Errorf("corrupt record: %w", err)
		}
		return fn(key, v, err)
	})
}

// blobFiles checks the stored blobs against what the records say.
func (c *checker) blobFiles() error {
	found, err := c.listBlobs()
	if err != nil {
		return err
	}
	for name := range found {
		c.blob(name)
	}
	names := make([]string, 0, len(c.blobs))
	for name := range c.blobs {
		names = append(names, name)
	}
	slices.Sort(names)
	c.st.BlobsTotal = len(names)
	var reads []blobRead
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		size, ok := found[name]
		if r, read := c.blobFile(name, c.blobs[name], size, ok); read {
			reads = append(reads, r)
		}
		c.st.Blobs++
		c.progress()
	}
	if !c.opts.ReadData {
		return nil
	}
	return c.readBlobs(reads)
}

// listBlobs lists the store's blobs with their sizes, reporting whatever
// else it holds (a folder store's strays: a file not where its name puts
// it, or not a regular file).
func (c *checker) listBlobs() (map[string]int64, error) {
	found := map[string]int64{}
	blob := func(b BlobInfo) error {
		if b.Name != ownerBlob { // the store's claim (storeclaim.go), not a blob
			found[b.Name] = b.Size
		}
		return nil
	}
	if w, ok := c.db.blobs.(strayWalker); ok {
		err := w.walk(c.ctx, blob, func(path, why string) error {
			c.problem("file "+c.shortPath(path), "%s", why)
			return nil
		})
		return found, err
	}
	return found, c.db.blobs.List(c.ctx, blob)
}

// blobRead is one blob to hash, with the digest its records give.
type blobRead struct {
	name    string
	subject string
	want    blobDigest
}

// blobFile checks one stored blob against its records; it returns the blob
// to read for ReadData when it has a digest.
func (c *checker) blobFile(name string, b *blobUse, size int64, exists bool) (blobRead, bool) {
	subject := "blob " + name
	if len(b.users) > 0 {
		var who []string
		for _, u := range b.users {
			who = append(who, u.who)
		}
		subject += " (" + strings.Join(who, ", ") + ")"
	}
	switch {
	case !exists && len(b.users) > 0:
		c.problem(subject, "%s is missing", c.where(name))
		return blobRead{}, false
	case !exists:
		c.problem(subject, "a %s key names it, but no record uses it and the file is missing", b.keys())
		return blobRead{}, false
	case len(b.users) == 0 && (b.ref || b.shard >= 0):
		c.problem(subject, "a %s key names it, but no record uses it", b.keys())
		return blobRead{}, false
	case len(b.users) == 0:
		c.problem(subject, "%s is referenced by no record (an orphan; the next writable open removes it)", c.where(name))
		return blobRead{}, false
	}
	shardUse, sizeWrong := false, false
	want, hasSum := b.digest, b.hasSum
	for _, u := range b.users {
		one := "blob " + name + " (" + u.who + ")"
		if u.size != size {
			c.problem(one, "size %d, record says %d", size, u.size)
			sizeWrong = true
		}
		if u.shard < 0 && !b.ref {
			if b.shard >= 0 {
				c.problem(one, "no b/ key references it")
			} else {
				c.problem(one, "no b/ key references it: the next writable open would delete it as an orphan")
			}
		}
		if u.shard >= 0 {
			shardUse = true
			if b.shard != u.shard {
				c.problem(one, "its B/ key names shard %d, not %d: the shard does not hold it", b.shard, u.shard)
			}
		}
		if u.hasSum {
			if hasSum && u.sum.conflicts(want) {
				c.problem(one, "member digest %.8x... differs from the b/ key's %.8x...", u.sum.sum, want.sum)
			}
			want, hasSum = u.sum.merged(want), true
		}
	}
	if b.shard >= 0 && !shardUse {
		c.problem(subject, "its B/ key names shard %d, but no sample of that shard holds it", b.shard)
	}
	if !hasSum {
		c.st.NoDigest++
		return blobRead{}, false
	}
	if want.size != size {
		if !sizeWrong {
			c.problem(subject, "size %d, digest recorded for %d", size, want.size)
		}
		return blobRead{}, false
	}
	return blobRead{name: name, subject: subject, want: want}, true
}

func (b *blobUse) keys() string {
	switch {
	case b.ref && b.shard >= 0:
		return "b/ and a B/"
	case b.ref:
		return "b/"
	}
	return "B/"
}

// where names blob name's place in the store for a problem line: its file
// ("file blobs/ab/NAME") where the store keeps local files.
func (c *checker) where(name string) string {
	if p, ok := c.db.BlobLocalPath(name); ok {
		return "file " + c.shortPath(p)
	}
	return "the stored blob"
}

// shortPath is p relative to the database folder when it lies inside it.
func (c *checker) shortPath(p string) string {
	rel, err := filepath.Rel(c.db.dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return rel
}

// readBlobs hashes the blobs and compares them with their digests, a few
// at a time; problems are reported in name order.
func (c *checker) readBlobs(reads []blobRead) error {
	type result struct {
		i   int
		n   int64
		err error
	}
	jobs := make(chan int)
	results := make(chan result, len(reads)) // workers never wait on it
	workers := max(1, min(4, runtime.GOMAXPROCS(0), len(reads)))
	for range workers {
		go func() {
			for i := range jobs {
				n, err := c.readBlob(reads[i])
				results <- result{i, n, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range reads {
			select {
			case jobs <- i:
			case <-c.ctx.Done():
				return
			}
		}
	}()
	for _, r := range reads {
		c.st.BytesTotal += r.want.size
	}
	errs := make([]error, len(reads))
	for range reads {
		select {
		case r := <-results:
			errs[r.i] = r.err
			c.st.BytesRead += r.n
			c.progress()
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
	if err := c.ctx.Err(); err != nil { // a read the store failed for it is no problem of the blob
		return err
	}
	for i, err := range errs {
		if err != nil {
			c.problem(reads[i].subject, "%v", err)
		}
	}
	return nil
}

// readBlob hashes one blob; the error says how it differs from its digest.
func (c *checker) readBlob(r blobRead) (int64, error) {
	got, err := c.db.hashBlob(c.ctx, r.name, true)
	if err != nil {
		return got.size, fmt.Errorf("cannot read: %w", err)
	}
	if why := digestDiff(got, r.want); why != "" {
		return got.size, fmt.Errorf("%s: %s", ErrCorrupt, why)
	}
	return got.size, nil
}
