package index

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/zeebo/xxh3"
)

// blobDigest is what a b/ key records of its blob: the size, the SHA-256
// of the bytes (the blob's identity, which check --read-data verifies) and
// their XXH3-128 (what a read verifies: about 14 times cheaper to compute,
// and as sure to catch a changed, cut or damaged file), taken when the blob
// was adopted. Blobs adopted before XXH3 was recorded have the SHA-256
// only; those from before digests have none (empty b/ values).
type blobDigest struct {
	size    int64
	sum     [sha256.Size]byte
	fast    [16]byte // XXH3-128, big-endian (the canonical form)
	hasFast bool
	noSum   bool // a quick hash (hashReader without full): sum not taken
}

// Tags of a b/ value: digestSHA256, the tag byte, the size as a uvarint,
// then the 32 bytes of the SHA-256; digestSHA256XXH3, the same followed
// by the 16 bytes of the XXH3-128.
const (
	digestSHA256     = 1
	digestSHA256XXH3 = 2
)

func (d blobDigest) encode() []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+sha256.Size+len(d.fast))
	tag := byte(digestSHA256)
	if d.hasFast {
		tag = digestSHA256XXH3
	}
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(d.size))
	b = append(b, d.sum[:]...)
	if d.hasFast {
		b = append(b, d.fast[:]...)
	}
	return b
}

// decodeDigest reads a b/ value; ok is false for an empty one (no digest).
func decodeDigest(v []byte) (d blobDigest, ok bool, err error) {
	if len(v) == 0 {
		return d, false, nil
	}
	tail := 0
	switch v[0] {
	case digestSHA256:
	case digestSHA256XXH3:
		tail, d.hasFast = len(d.fast), true
	default:
		return d, false, fmt.Errorf("unknown digest kind %d", v[0])
	}
	size, n := binary.Uvarint(v[1:])
	if n <= 0 || len(v) != 1+n+sha256.Size+tail {
		return d, false, errors.New("corrupt digest")
	}
	d.size = int64(size)
	copy(d.sum[:], v[1+n:])
	copy(d.fast[:], v[1+n+sha256.Size:])
	return d, true, nil
}

// memberDigest is a shard member's recorded digest; ok is false when it
// has none (samples added before digests). Members added before XXH3 was
// recorded have the SHA-256 only.
func memberDigest(m ShardMember) (blobDigest, bool) {
	d := blobDigest{size: m.Size}
	if len(m.SHA256) != 2*sha256.Size {
		return d, false
	}
	if _, err := hex.Decode(d.sum[:], []byte(m.SHA256)); err != nil {
		return d, false
	}
	if len(m.XXH3) == 2*len(d.fast) {
		_, err := hex.Decode(d.fast[:], []byte(m.XXH3))
		d.hasFast = err == nil
	}
	return d, true
}

// conflicts says whether two digests of one blob disagree on what both hold.
func (d blobDigest) conflicts(o blobDigest) bool {
	return d.size != o.size || d.sum != o.sum || d.hasFast && o.hasFast && d.fast != o.fast
}

// merged is d with what o holds and d lacks (o agreeing with d).
func (d blobDigest) merged(o blobDigest) blobDigest {
	if !d.hasFast && o.hasFast {
		d.fast, d.hasFast = o.fast, true
	}
	return d
}

// hashBuffers are hashFile's read buffers, reused from blob to blob.
var hashBuffers = sync.Pool{New: func() any { return new([256 << 10]byte) }}

// hashFile is the size, SHA-256 and XXH3-128 of r's bytes (a tmp file, or
// a blob through an io.SectionReader): all of the digest.
func hashFile(r io.Reader) (blobDigest, error) { return hashReader(r, true) }

// hashReader is hashFile, or with full false the size and XXH3-128 only:
// what verifying a blob whose digest records XXH3 needs.
func hashReader(r io.Reader, full bool) (blobDigest, error) {
	h := newDigester(full)
	buf := hashBuffers.Get().(*[256 << 10]byte)
	defer hashBuffers.Put(buf)
	n, err := io.CopyBuffer(h.w, onlyReader{r}, buf[:])
	if err != nil {
		return blobDigest{}, err
	}
	return h.digest(n), nil
}

// digester takes a blob's digest as its bytes are written to w: XXH3-128,
// and SHA-256 too when full.
type digester struct {
	w    io.Writer
	fast *xxh3.Hasher
	sha  hash.Hash // nil unless full
}

func newDigester(full bool) digester {
	d := digester{fast: xxh3.New()}
	d.w = d.fast
	if full {
		d.sha = sha256.New()
		d.w = io.MultiWriter(d.sha, d.fast)
	}
	return d
}

// digest is the digest of the size bytes written.
func (h digester) digest(size int64) blobDigest {
	d := blobDigest{size: size, fast: h.fast.Sum128().Bytes(), hasFast: true, noSum: h.sha == nil}
	if h.sha != nil {
		h.sha.Sum(d.sum[:0])
	}
	return d
}

// onlyReader hides an *os.File's WriteTo, so that CopyBuffer uses the
// buffer it is given.
type onlyReader struct{ io.Reader }

// adopted holds the digests of blobs adopted by this process and not yet
// committed: the commit that writes their b/ keys records them there.
type adopted struct {
	mu      sync.Mutex
	digests map[string]blobDigest
}

func (a *adopted) add(name string, d blobDigest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.digests == nil {
		a.digests = map[string]blobDigest{}
	}
	a.digests[name] = d
}

func (a *adopted) get(name string) (blobDigest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.digests[name]
	return d, ok
}

func (a *adopted) forget(names ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		delete(a.digests, n)
	}
}

// blobRefs writes the b/ keys of one commit: with the digest of a blob this
// process adopted, or keeping the value a key already has. Once the commit
// succeeds, done drops the adopted digests it recorded.
type blobRefs struct {
	db      *DB
	written []string
}

func (r *blobRefs) set(txn *badger.Txn, name string) error {
	var val []byte
	if d, ok := r.db.adopted.get(name); ok {
		val = d.encode()
		r.written = append(r.written, name)
	} else if item, err := txn.Get(blobKey(name)); err == nil {
		if val, err = item.ValueCopy(nil); err != nil {
			return err
		}
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	return txn.Set(blobKey(name), val)
}

func (r *blobRefs) done() { r.db.adopted.forget(r.written...) }

// recordedDigest is the digest in blob name's b/ key, read in txn.
func recordedDigest(txn *badger.Txn, name string) (blobDigest, bool, error) {
	item, err := txn.Get(blobKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return blobDigest{}, false, nil
	} else if err != nil {
		return blobDigest{}, false, err
	}
	var d blobDigest
	var ok bool
	err = item.Value(func(v []byte) (err error) {
		d, ok, err = decodeDigest(v)
		return err
	})
	return d, ok, err
}

// VerifyBlob checks that blob name's bytes match the digest recorded when
// it was adopted, reading the blob once per process: the verdict is kept
// in memory (the last maxVerdicts blobs). A blob without a recorded digest
// passes. Bytes that differ give an error wrapping ErrCorrupt.
func (db *DB) VerifyBlob(name string) error {
	return db.verdicts.verify(name, func() (blobDigest, bool, error) {
		var d blobDigest
		var ok bool
		err := db.view(func(txn *badger.Txn) (err error) {
			d, ok, err = recordedDigest(txn, name)
			return err
		})
		return d, ok, err
	}, db.hasher(name))
}

// verifyMember is VerifyBlob for a shard member, which carries its own
// digest (members from before digests fall back to the b/ key).
func (db *DB) verifyMember(m ShardMember) error {
	if d, ok := memberDigest(m); ok {
		return db.verdicts.verify(m.Blob, func() (blobDigest, bool, error) { return d, true, nil }, db.hasher(m.Blob))
	}
	return db.VerifyBlob(m.Blob)
}

// hasher hashes blob name from the store when called: all of the digest
// when full, the size and XXH3 otherwise.
func (db *DB) hasher(name string) func(full bool) (blobDigest, error) {
	return func(full bool) (blobDigest, error) { return db.hashBlob(context.Background(), name, full) }
}

// maxVerdicts bounds the blobs remembered as sound (about 40 bytes each, so
// 40 MB at most): past it, the oldest are forgotten and verified again when
// next opened. maxCorrupt bounds those remembered as corrupt.
const (
	maxVerdicts = 1 << 20
	maxCorrupt  = 1 << 12
)

// verdicts remembers which blobs were verified, so that each is read once
// per process. Concurrent first opens of a blob wait for one reading.
type verdicts struct {
	mu      sync.Mutex
	sound   map[nameKey]struct{}
	order   []nameKey // sound blobs in the order verified, a ring once full
	next    int       // the oldest in order, once full
	corrupt map[string]error
	busy    map[string]*verdict // verifications in flight
}

// nameKey is the FNV-128a hash of a blob name: 16 bytes however long the
// name, and no collision in practice.
type nameKey [16]byte

func keyOf(name string) nameKey {
	h := fnv.New128a()
	h.Write([]byte(name))
	var k nameKey
	h.Sum(k[:0])
	return k
}

type verdict struct {
	done chan struct{}
	err  error
}

func (v *verdicts) verify(name string, recorded func() (blobDigest, bool, error), hash func(full bool) (blobDigest, error)) error {
	k := keyOf(name)
	v.mu.Lock()
	if _, ok := v.sound[k]; ok {
		v.mu.Unlock()
		return nil
	}
	if err, ok := v.corrupt[name]; ok {
		v.mu.Unlock()
		return err
	}
	if e, ok := v.busy[name]; ok {
		v.mu.Unlock()
		<-e.done
		return e.err
	}
	if v.busy == nil {
		v.sound, v.corrupt, v.busy = map[nameKey]struct{}{}, map[string]error{}, map[string]*verdict{}
	}
	e := &verdict{done: make(chan struct{})}
	v.busy[name] = e
	v.mu.Unlock()

	err, final := checkDigest(name, recorded, hash)
	v.mu.Lock()
	delete(v.busy, name)
	switch {
	case final && err == nil:
		v.remember(k)
	case final:
		if len(v.corrupt) >= maxCorrupt {
			clear(v.corrupt)
		}
		v.corrupt[name] = err
	}
	v.mu.Unlock()
	e.err = err
	close(e.done)
	return err
}

// remember adds a sound blob, forgetting the oldest past maxVerdicts; v.mu held.
func (v *verdicts) remember(k nameKey) {
	if len(v.order) < maxVerdicts {
		v.order = append(v.order, k)
	} else {
		delete(v.sound, v.order[v.next])
		v.order[v.next] = k
		v.next = (v.next + 1) % maxVerdicts
	}
	v.sound[k] = struct{}{}
}

// checkDigest hashes the blob and compares it with its recorded digest:
// its XXH3 where that is recorded, else its SHA-256. final says whether the verdict holds for good (blob bytes never change),
// as opposed to a failure to read that may pass next time, or a blob
// without a digest.
func checkDigest(name string, recorded func() (blobDigest, bool, error), hash func(full bool) (blobDigest, error)) (err error, final bool) {
	want, ok, err := recorded()
	if err != nil {
		return fmt.Errorf("index: blob %s: digest: %w", name, err), false
	}
	if !ok { // not kept: another path to the blob (a shard member) may have one
		return nil, false
	}
	got, err := hash(!want.hasFast)
	if err != nil {
		return fmt.Errorf("index: blob %s: %w", name, err), false
	}
	if why := digestDiff(got, want); why != "" {
		return &CorruptError{Blob: name, Detail: why}, true
	}
	return nil, true
}

// digestDiff says how got differs from want ("" when it does not), on
// what both hold: a quick hash (got without its SHA-256) is compared by
// size and XXH3 only.
func digestDiff(got, want blobDigest) string {
	switch {
	case got.size != want.size:
		return fmt.Sprintf("%d bytes, digest recorded for %d", got.size, want.size)
	case !got.noSum && got.sum != want.sum:
		return fmt.Sprintf("sha256 %.8x..., recorded %.8x...", got.sum, want.sum)
	case got.hasFast && want.hasFast && got.fast != want.fast:
		return fmt.Sprintf("xxh3-128 %.8x..., recorded %.8x...", got.fast, want.fast)
	}
	return ""
}

// CorruptError reports a blob whose bytes differ from the digest recorded
// when it was adopted; it wraps ErrCorrupt.
type CorruptError struct {
	Blob   string
	Detail string // how they differ
}

func (e *CorruptError) Error() string {
	return "index: blob " + e.Blob + ": " + ErrCorrupt.Error() + " (" + e.Detail + ")"
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }
