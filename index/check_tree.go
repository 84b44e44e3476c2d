package index

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// treeEntries checks every n/ entry against the record it refers to, then
// that every folder holding entries has one and every clip its entries.
func (c *checker) treeEntries(txn *badger.Txn) error {
	folders := map[string]string{} // folder -> an entry inside it
	err := scan(txn, "n/", func(key string, v []byte) error {
		dir, name, ok := strings.Cut(key[len("n/"):], "\x00")
		if !ok {
			c.problem("entry "+key, "key has no folder separator")
			return c.record()
		}
		p := entryPath(dir, name)
		e, err := decodeEntry(name, v)
		if err != nil {
			c.problem("entry "+p, "%v", err)
			return c.record()
		}
		if _, ok := folders[dir]; !ok {
			folders[dir] = p
		}
		if err := c.entry(txn, dir, p, e); err != nil {
			return err
		}
		return c.record()
	})
	if err != nil {
		return err
	}
	for _, dir := range sortedKeys(folders) {
		if !c.dirs[dir] {
			c.problem("entry "+folders[dir], "its folder %s has no entry", dir)
		}
	}
	ids := make([]uuid.UUID, 0, len(c.clips))
	for id := range c.clips {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range ids {
		f := c.clips[id]
		if !f.meta {
			c.problem("clip "+id.String(), "no entry %s/%s.json", DirMetas, id)
		}
		if f.blob != "" && !f.media {
			dir := DirClips
			if f.filtered {
				dir = DirFilteredClips
			}
			c.problem("clip "+id.String(), "no entry %s/%s.mp4", dir, id)
		}
		if !f.filtered && f.previewSeen < len(f.previews) {
			c.problem("clip "+id.String(), "%d previews, %d entries under %s/%s", len(f.previews), f.previewSeen, DirPreviews, id)
		}
	}
	return nil
}

func entryPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// entry checks one tree entry at path p in folder dir.
func (c *checker) entry(txn *badger.Txn, dir, p string, e Entry) error {
	subject := "entry " + p
	switch e.Kind {
	case KindDir:
		c.dirs[p] = true
	case KindBlob:
		c.blobEntry(dir, p, e)
	case KindClipMeta:
		if f := c.clipRef(subject, e.Ref); f != nil {
			f.meta = true
		}
	case KindEmbedPickle:
		prefix, id, err := splitRef(e.Ref)
		if err != nil {
			c.problem(subject, "%v", err)
			return nil
		}
		if _, err := txn.Get(embedKey(prefix, id)); errors.Is(err, badger.ErrKeyNotFound) {
			c.problem(subject, "embedding %s of clip %s has no record", prefix, id)
		} else if err != nil {
			return err
		}
	case KindEmbedParquet, KindChunkMeta:
		ref := e.Ref
		if e.Kind == KindEmbedParquet {
			_, id, err := splitRef(ref)
			if err != nil {
				c.problem(subject, "%v", err)
				return nil
			}
			ref = id.String()
		}
		if id, err := uuid.Parse(ref); err != nil {
			c.problem(subject, "bad chunk reference %q", ref)
		} else if !c.chunks[id] {
			c.problem(subject, "chunk %s has no record", id)
		}
	case KindVideoMeta:
		if !c.videos[e.Ref] {
			c.problem(subject, "video %s has no record", e.Ref)
		}
	case KindShard:
		n, err := strconv.Atoi(e.Ref)
		if err != nil {
			c.problem(subject, "bad shard reference %q", e.Ref)
			return nil
		}
		c.shardEntries[n] = e.Size
	case KindShardIndex:
	default:
		c.problem(subject, "unknown entry kind %d", e.Kind)
	}
	return nil
}

// splitRef splits "<prefix>/<uuid>".
func splitRef(ref string) (string, uuid.UUID, error) {
	prefix, id, ok := strings.Cut(ref, "/")
	u, err := uuid.Parse(id)
	if !ok || err != nil {
		return "", uuid.Nil, fmt.Errorf("bad reference %q", ref)
	}
	return prefix, u, nil
}

// clipRef is the clip an entry refers to, or nil (reported) when it has no record.
func (c *checker) clipRef(subject, ref string) *clipFacts {
	id, err := uuid.Parse(ref)
	if err != nil {
		c.problem(subject, "bad clip reference %q", ref)
		return nil
	}
	f := c.clips[id]
	if f == nil {
		c.problem(subject, "clip %s has no record", id)
	}
	return f
}

// blobEntry checks a clip, preview or root blob entry against its record.
// An entry that disagrees with its clip, or has none, also uses the blob
// it names, so a missing file is reported too.
func (c *checker) blobEntry(dir, p string, e Entry) {
	subject := "entry " + p
	agrees := false
	switch {
	case dir == DirClips || dir == DirFilteredClips:
		f := c.clipRef(subject, strings.TrimSuffix(e.Name, ".mp4"))
		if f == nil {
			break
		}
		f.media = true
		switch {
		case f.blob == "":
			c.problem(subject, "its clip has no stored media")
		case f.filtered != (dir == DirFilteredClips):
			c.problem(subject, "its clip is filtered=%v", f.filtered)
			agrees = f.blob == e.Ref
		case f.blob != e.Ref:
			c.problem(subject, "names blob %s, its clip %s", e.Ref, f.blob)
		case f.size != e.Size:
			c.problem(subject, "size %d, its clip says %d", e.Size, f.size)
			agrees = true
		default:
			agrees = true
		}
	case strings.HasPrefix(dir, DirPreviews+"/"):
		f := c.clipRef(subject, dir[len(DirPreviews)+1:])
		if f == nil {
			break
		}
		pv, ok := f.previews[e.Name]
		switch {
		case !ok:
			c.problem(subject, "its clip has no preview %s", e.Name)
		case pv.Blob != e.Ref:
			c.problem(subject, "names blob %s, its clip %s", e.Ref, pv.Blob)
			f.previewSeen++
		default:
			if pv.Size != e.Size {
				c.problem(subject, "size %d, its clip says %d", e.Size, pv.Size)
			}
			f.previewSeen++
			agrees = true
		}
	}
	if !agrees {
		c.use(e.Ref, blobUser{who: subject, size: e.Size, shard: -1})
	}
}

// shards checks every shard header against its samples, and each sample's
// members: snapshots hold their size, blob members become users of their
// blob (which must exist, with a B/ key naming the shard).
func (c *checker) shards(txn *badger.Txn) error {
	var headers []ShardHeader
	err := scanJSONTxn(txn, "S/", func(key string, h ShardHeader, err error) error {
		if err != nil {
			c.problem("shard "+key[len("S/"):], "%v", err)
		} else {
			headers = append(headers, h)
		}
		return c.record()
	})
	if err != nil {
		return err
	}
	have := map[int]bool{}
	for i, h := range headers {
		have[h.Number] = true
		if !h.Sealed && i < len(headers)-1 {
			c.problem("shard "+ShardName(h.Number), "not sealed, but shard %d comes after it", headers[len(headers)-1].Number)
		}
		if err := c.shard(txn, h); err != nil {
			return err
		}
	}
	for _, n := range sortedInts(c.shardEntries) {
		if !have[n] {
			c.problem("entry "+DirShards+"/"+ShardName(n), "shard %d has no header", n)
		}
	}
	return c.strandedSamples(txn, have)
}

func sortedInts[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *checker) shard(txn *badger.Txn, h ShardHeader) error {
	name := DirShards + "/" + ShardName(h.Number)
	if !h.Sealed {
		name = fmt.Sprintf("open shard %06d", h.Number)
	}
	sizes := map[int][]int64{} // member sizes by sequence number
	var dataBytes int64
	prefix := string(samplePrefix(h.Number))
	err := scanJSONTxn(txn, prefix, func(key string, s ShardSample, err error) error {
		seq, serr := strconv.Atoi(key[len(prefix):])
		if err != nil || serr != nil {
			c.problem(name+" sample "+key[len(prefix):], "%v", errors.Join(err, serr))
			return c.record()
		}
		for _, m := range s.Members {
			member := name + " member " + s.Key + "." + m.Ext
			if m.Blob != "" {
				d, ok := memberDigest(m)
				c.use(m.Blob, blobUser{who: member, size: m.Size, shard: h.Number, sum: d, hasSum: ok})
			} else if int64(len(m.Data)) != m.Size {
				c.problem(member, "snapshot of %d bytes, size says %d", len(m.Data), m.Size)
			}
			sizes[seq] = append(sizes[seq], m.Size)
			dataBytes += m.Size
		}
		if len(s.Members) == 0 {
			sizes[seq] = []int64{}
		}
		return c.record()
	})
	if err != nil {
		return err
	}
	subject := name
	if h.Sealed {
		subject = "shard " + name
	}
	if !h.Sealed {
		if h.Samples != len(sizes) || h.DataBytes != dataBytes {
			c.problem(subject, "header counts %d samples of %d bytes, it holds %d of %d", h.Samples, h.DataBytes, len(sizes), dataBytes)
		}
		if _, ok := c.shardEntries[h.Number]; ok {
			c.problem(subject, "not sealed, but %s lists it", DirShards)
		}
		return nil
	}
	if size, ok := c.shardEntries[h.Number]; !ok {
		c.problem(subject, "sealed, but %s does not list it", DirShards)
	} else if size != h.Size {
		c.problem(subject, "entry says %d bytes, header %d", size, h.Size)
	}
	var all []int64
	for _, seq := range h.Seqs {
		m, ok := sizes[seq]
		if !ok {
			c.problem(subject, "sample %d of its order has no record", seq)
		}
		all = append(all, m...)
	}
	if len(h.Seqs) != h.Samples || len(sizes) != len(h.Seqs) {
		c.problem(subject, "header counts %d samples and orders %d, it holds %d", h.Samples, len(h.Seqs), len(sizes))
	}
	if got := tarSize(all); got != h.Size {
		c.problem(subject, "members add up to %d bytes, header says %d", got, h.Size)
	}
	return nil
}

// strandedSamples reports samples of shards that have no header.
func (c *checker) strandedSamples(txn *badger.Txn, have map[int]bool) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.PrefetchValues = []byte("s/"), false
	it := txn.NewIterator(opts)
	defer it.Close()
	seen := map[int]bool{}
	for it.Rewind(); it.Valid(); it.Next() {
		n, ok := isShardSampleKey(string(it.Item().Key()))
		if ok && !have[n] && !seen[n] {
			seen[n] = true
			c.problem(fmt.Sprintf("shard %06d", n), "has samples but no header")
		}
	}
	return c.ctx.Err()
}
