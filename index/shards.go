package index

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// DirShards is the folder of sealed WebDataset shards.
const DirShards = "wds"

// ShardIndexName is wds/shards.json, the wids index of the sealed shards.
const ShardIndexName = "shards.json"

// ShardName is shard-NNNNNN.tar.
func ShardName(n int) string { return fmt.Sprintf("shard-%06d.tar", n) }

// ShardMember is one file of a sample: "<key>.<Ext>". Its bytes are either
// a blob (clip media) or a snapshot taken when the sample was added, so a
// sealed shard never changes whatever is curated later.
type ShardMember struct {
	Ext  string `json:"ext"`
	Size int64  `json:"size"`
	Blob string `json:"blob,omitempty"`
	Data []byte `json:"data,omitempty"`
	// SHA256 is the hex digest of a blob member, copied from the blob's b/
	// key when the sample is added, so that it outlives the clip record.
	SHA256 string `json:"sha256,omitempty"`
	// XXH3 is its XXH3-128 (hex), copied likewise: what a read verifies.
	// Members added before XXH3 was recorded have SHA256 only.
	XXH3 string `json:"xxh3,omitempty"`
}

// ShardSample is one passed clip in a shard: adjacent members sharing Key.
type ShardSample struct {
	Clip uuid.UUID `json:"clip"`
	Key  string    `json:"key"`
	// Order sorts the samples when the shard seals (source, then start), so
	// that a shard's bytes do not depend on which video finished first.
	Order   string        `json:"order"`
	MTime   int64         `json:"mtime"`
	Members []ShardMember `json:"members"`
}

// ShardLimits seal the open shard once reached.
type ShardLimits struct {
	TargetBytes int64 // sum of member sizes
	MaxSamples  int
}

// DefaultShardLimits are 1 GiB or 10,000 samples.
func DefaultShardLimits() ShardLimits { return ShardLimits{TargetBytes: 1 << 30, MaxSamples: 10000} }

// ShardHeader describes one shard; only sealed shards are served.
type ShardHeader struct {
	Number    int   `json:"number"`
	Sealed    bool  `json:"sealed"`
	Samples   int   `json:"samples"`
	DataBytes int64 `json:"data_bytes"` // sum of member sizes
	NextSeq   int   `json:"next_seq"`
	Size      int64 `json:"size"` // ustar size, once sealed
	SealedAt  int64 `json:"sealed_at,omitempty"`
	// Seqs lists the samples' sequence numbers in served order, once sealed.
	Seqs []int `json:"seqs,omitempty"`
	// MD5 is the hex md5 of the shard's bytes, filled in after sealing.
	MD5 string `json:"md5,omitempty"`
}

func shardKey(n int) []byte                 { return fmt.Appendf(nil, "S/%06d", n) }
func sampleKey(n, seq int) []byte           { return fmt.Appendf(nil, "s/%06d/%08d", n, seq) }
func samplePrefix(n int) []byte             { return fmt.Appendf(nil, "s/%06d/", n) }
func shardBlobKey(blob string) []byte       { return []byte("B/" + blob) }
func isShardSampleKey(k string) (int, bool) { return parseShardKey(k, "s/") }
func isShardBlobKey(k string) bool          { return strings.HasPrefix(k, "B/") }

func parseShardKey(k, prefix string) (int, bool) {
	var n int
	if !strings.HasPrefix(k, prefix) {
		return 0, false
	}
	_, err := fmt.Sscanf(k[len(prefix):], "%06d", &n)
	return n, err == nil
}

// tarSize is the size of a plain ustar archive of these members: a 512-byte
// header per member, data padded to 512, two zero blocks (pack.Tar agrees).
func tarSize(sizes []int64) int64 {
	total := int64(1024)
	for _, s := range sizes {
		total += 512 + (s+511)/512*512
	}
	return total
}

// openShard returns the header of the shard being filled (creating it).
func openShard(txn *badger.Txn) (ShardHeader, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.Reverse = []byte("S/"), true
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek([]byte("S/\xff"))
	if !it.Valid() {
		return ShardHeader{}, nil
	}
	var h ShardHeader
	if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &h) }); err != nil {
		return h, fmt.Errorf("shard header %s: %w", it.Item().Key(), err)
	}
	if h.Sealed {
		return ShardHeader{Number: h.Number + 1}, nil
	}
	return h, nil
}

// addSamples appends samples to the open shard, sealing it (and opening the
// next) whenever a limit is reached. It returns the keys the samples wrote,
// for the chunk's manifest.
func addSamples(txn *badger.Txn, samples []ShardSample, lim ShardLimits, now int64) ([][]byte, error) {
	if len(samples) == 0 {
		return nil, nil
	}
	h, err := openShard(txn)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, s := range samples {
		k := sampleKey(h.Number, h.NextSeq)
		if err := addDigests(txn, &s); err != nil {
			return nil, err
		}
		if err := setJSON(txn, k, s); err != nil {
			return nil, err
		}
		keys = append(keys, k)
		for _, m := range s.Members {
			h.DataBytes += m.Size
			if m.Blob != "" {
				if err := txn.Set(shardBlobKey(m.Blob), fmt.Appendf(nil, "%d", h.Number)); err != nil {
					return nil, err
				}
				keys = append(keys, shardBlobKey(m.Blob))
			}
		}
		h.NextSeq++
		h.Samples++
		if (lim.MaxSamples > 0 && h.Samples >= lim.MaxSamples) || (lim.TargetBytes > 0 && h.DataBytes >= lim.TargetBytes) {
			if err := seal(txn, &h, now); err != nil {
				return nil, err
			}
			h = ShardHeader{Number: h.Number + 1}
		}
	}
	return keys, setJSON(txn, shardKey(h.Number), h)
}

// addDigests copies into s's blob members the digests their b/ keys record
// (written earlier in the same commit), on a copy of the member list.
func addDigests(txn *badger.Txn, s *ShardSample) error {
	s.Members = slices.Clone(s.Members)
	for i, m := range s.Members {
		if m.Blob == "" || m.SHA256 != "" {
			continue
		}
		d, ok, err := recordedDigest(txn, m.Blob)
		if err != nil {
			return fmt.Errorf("blob %s: %w", m.Blob, err)
		}
		if ok {
			s.Members[i].SHA256 = hex.EncodeToString(d.sum[:])
			if d.hasFast {
				s.Members[i].XXH3 = hex.EncodeToString(d.fast[:])
			}
		}
	}
	return nil
}

// seal orders h's samples, marks it sealed and publishes it as
// wds/shard-NNNNNN.tar.
func seal(txn *badger.Txn, h *ShardHeader, now int64) error {
	var sizes []int64
	type ordered struct {
		seq   int
		order string
	}
	var order []ordered
	err := scanSamples(txn, h.Number, func(seq int, s ShardSample) error {
		for _, m := range s.Members {
			sizes = append(sizes, m.Size)
		}
		order = append(order, ordered{seq, s.Order + "\x00" + s.Key})
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].order < order[j].order })
	h.Seqs = h.Seqs[:0]
	for _, o := range order {
		h.Seqs = append(h.Seqs, o.seq)
	}
	h.Sealed, h.Size, h.SealedAt = true, tarSize(sizes), now
	if err := setJSON(txn, shardKey(h.Number), h); err != nil {
		return err
	}
	w := newTreeWrites(now)
	w.file(DirShards+"/"+ShardName(h.Number), KindShard, h.Size, fmt.Sprint(h.Number), false)
	w.file(DirShards+"/"+ShardIndexName, KindShardIndex, -1, "", false)
	return writeTree(txn, w)
}

// scanSamples calls fn with each sample of shard n and its sequence number,
// in sequence order.
func scanSamples(txn *badger.Txn, n int, fn func(seq int, s ShardSample) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = samplePrefix(n)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var s ShardSample
		key := it.Item().Key()
		seq, err := strconv.Atoi(string(key[len(opts.Prefix):]))
		if err != nil {
			return fmt.Errorf("shard sample %s: bad key", key)
		}
		if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &s) }); err != nil {
			return fmt.Errorf("shard sample %s: %w", key, err)
		}
		if err := fn(seq, s); err != nil {
			return err
		}
	}
	return nil
}

// SealOpenShard seals the shard being filled, if it holds any sample (the
// end of a curate run). It reports whether a shard was sealed.
func (db *DB) SealOpenShard() (bool, error) {
	if db.readOnly {
		return false, ErrReadOnly
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	sealed := false
	err := db.update(func(txn *badger.Txn) error {
		h, err := openShard(txn)
		if err != nil || h.Samples == 0 {
			return err
		}
		sealed = true
		return seal(txn, &h, Now())
	})
	if err != nil {
		return false, fmt.Errorf("index: seal shard: %w", err)
	}
	return sealed, nil
}

// SetShardMD5 records the md5 of sealed shard n's bytes (for wids).
func (db *DB) SetShardMD5(n int, md5 string) error {
	if db.readOnly {
		return ErrReadOnly
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	err := db.update(func(txn *badger.Txn) error {
		var h ShardHeader
		if err := getJSON(txn, shardKey(n), &h); err != nil {
			return err
		}
		if !h.Sealed {
			return errors.New("shard is not sealed")
		}
		h.MD5 = md5
		return setJSON(txn, shardKey(n), h)
	})
	if err != nil {
		return fmt.Errorf("index: shard %s: %w", ShardName(n), err)
	}
	return nil
}

// Shard returns shard n's header.
func (db *DB) Shard(n int) (ShardHeader, error) {
	var h ShardHeader
	return h, db.getJSON(shardKey(n), &h, "shard "+ShardName(n))
}

// ShardSamples returns shard n's samples in served order (sequence order
// while the shard is open).
func (db *DB) ShardSamples(n int) ([]ShardSample, error) {
	var out []ShardSample
	err := db.view(func(txn *badger.Txn) error {
		var h ShardHeader
		if err := getJSON(txn, shardKey(n), &h); err != nil {
			return err
		}
		bySeq := map[int]ShardSample{}
		err := scanSamples(txn, n, func(seq int, s ShardSample) error {
			if h.Seqs == nil {
				out = append(out, s)
			} else {
				bySeq[seq] = s
			}
			return nil
		})
		if err != nil || h.Seqs == nil {
			return err
		}
		for _, seq := range h.Seqs {
			s, ok := bySeq[seq]
			if !ok {
				return fmt.Errorf("sample %d of the sealed shard is missing", seq)
			}
			out = append(out, s)
		}
		return nil
	})
	return out, wrapRead(err, "shard "+ShardName(n))
}

// SealedShards calls fn for every sealed shard header, in order.
func (db *DB) SealedShards(fn func(ShardHeader) error) error {
	return scanJSON(db, "S/", func(h ShardHeader) error {
		if !h.Sealed {
			return nil
		}
		return fn(h)
	})
}

// keepForShard reports whether a manifest key belongs to a sealed shard
// (a sample or a blob it holds) and so outlives the chunk that wrote it.
func keepForShard(txn *badger.Txn, key string) (bool, error) {
	n, ok := isShardSampleKey(key)
	if !ok && isShardBlobKey(key) {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		v, _ := item.ValueCopy(nil)
		_, err = fmt.Sscanf(string(v), "%d", &n)
		ok = err == nil
	}
	if !ok {
		return false, nil
	}
	var h ShardHeader
	err := getJSON(txn, shardKey(n), &h)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return h.Sealed, err
}

// recountOpenShard recomputes the open shard's counters after samples of a
// replaced video left it.
func recountOpenShard(txn *badger.Txn) error {
	h, err := openShard(txn)
	if err != nil || h.Samples == 0 {
		return err
	}
	h.Samples, h.DataBytes = 0, 0
	err = scanSamples(txn, h.Number, func(_ int, s ShardSample) error {
		h.Samples++
		for _, m := range s.Members {
			h.DataBytes += m.Size
		}
		return nil
	})
	if err != nil {
		return err
	}
	return setJSON(txn, shardKey(h.Number), h)
}

// OpenShardHeader is the header of the shard being filled (Samples 0 when
// it holds nothing yet).
func (db *DB) OpenShardHeader() (ShardHeader, error) {
	var h ShardHeader
	err := db.view(func(txn *badger.Txn) error {
		var err error
		h, err = openShard(txn)
		return err
	})
	if err != nil {
		return h, fmt.Errorf("index: open shard: %w", err)
	}
	return h, nil
}
