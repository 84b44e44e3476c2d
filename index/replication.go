package index

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// The index is replicated through an object store (a BlobStore of its
// own, PREFIX/index/ beside the blobs) as Badger's backup stream: a base
// (a full backup) and the increments after it, named by a manifest. See
// doc.go, "Replication".

// manifestFormat is the first field of every manifest; a reader refuses
// any other.
const manifestFormat = "clipfs index replication v1"

// ReplicationManifest names the objects a replica is built from: the base
// and the increments after it, in order, each increment's Since the
// Version before it. It is an object of its own, manifest-<seq>.json,
// put after every object it names; the highest seq is current.
type ReplicationManifest struct {
	Format string `json:"format"`
	// Seq numbers manifests; the highest one in the store is current.
	Seq uint64 `json:"seq"`
	// Gen numbers bases: a rebase starts generation Gen+1.
	Gen        uint64              `json:"gen"`
	Base       ReplicationObject   `json:"base"`
	Increments []ReplicationObject `json:"increments"`
	// Version is the owner's Badger version the manifest brings a replica
	// to: the last increment's, or the base's.
	Version     uint64 `json:"version"`
	PublishedAt int64  `json:"published_at"` // unix seconds
}

// ReplicationObject is one backup object: every change of the owner's
// database after version Since up to and including Version (Since 0 for
// a base).
type ReplicationObject struct {
	Name    string `json:"name"`
	Since   uint64 `json:"since"`
	Version uint64 `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"` // hex
}

// Every object is named by the seq of the publish that put it, and a seq
// is used once (a failed publish uses one up), so a name is never put with
// other bytes.
func manifestName(seq uint64) string  { return fmt.Sprintf("manifest-%012d.json", seq) }
func baseName(seq uint64) string      { return fmt.Sprintf("base-%012d.backup", seq) }
func incrementName(seq uint64) string { return fmt.Sprintf("incr-%012d.backup", seq) }

// parseObjectName is the seq in a replication object's name, and whether
// it is a manifest; ok is false for a name that is neither.
func parseObjectName(name string) (seq uint64, manifest, ok bool) {
	for _, k := range []struct{ prefix, ext string }{{"manifest-", ".json"}, {"base-", ".backup"}, {"incr-", ".backup"}} {
		s, found := strings.CutPrefix(name, k.prefix)
		if !found {
			continue
		}
		if s, found = strings.CutSuffix(s, k.ext); !found || len(s) != 12 {
			return 0, false, false
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, k.prefix == "manifest-", err == nil
	}
	return 0, false, false
}

// names lists every object the manifest needs, itself included.
func (m *ReplicationManifest) names() []string {
	out := []string{manifestName(m.Seq), m.Base.Name}
	for _, o := range m.Increments {
		out = append(out, o.Name)
	}
	return out
}

// incrementBytes is the size of the increments together.
func (m *ReplicationManifest) incrementBytes() int64 {
	var n int64
	for _, o := range m.Increments {
		n += o.Size
	}
	return n
}

// LatestManifest reads the current manifest of the replication store
// objects; (nil, nil) when nothing was published there. A manifest removed
// between the listing and the read (a newer one replaced it) is looked up
// again.
func LatestManifest(ctx context.Context, objects BlobStore) (*ReplicationManifest, error) {
	for attempt := 0; ; attempt++ {
		seq, found, err := latestManifestSeq(ctx, objects)
		if err != nil || !found {
			return nil, err
		}
		m, err := readManifest(ctx, objects, seq)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue
		}
		return m, err
	}
}

func latestManifestSeq(ctx context.Context, objects BlobStore) (uint64, bool, error) {
	var seq uint64
	found := false
	err := objects.List(ctx, func(b BlobInfo) error {
		if n, manifest, ok := parseObjectName(b.Name); ok && manifest && (!found || n > seq) {
			seq, found = n, true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("index: replication manifests: %w", err)
	}
	return seq, found, nil
}

func readManifest(ctx context.Context, objects BlobStore, seq uint64) (*ReplicationManifest, error) {
	name := manifestName(seq)
	r, err := objects.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("index: replication %s: %w", name, err)
	}
	defer r.Close()
	raw, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return nil, fmt.Errorf("index: replication %s: %w", name, err)
	}
	var m ReplicationManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("index: replication %s: corrupt manifest: %w", name, err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("index: replication %s: format %q, not %q", name, m.Format, manifestFormat)
	}
	if m.Seq != seq {
		return nil, fmt.Errorf("index: replication %s: names seq %d", name, m.Seq)
	}
	return &m, nil
}

// writeBackup writes the changes after version since (all of them for 0)
// to the file at path, returning the highest version it wrote (0 when it
// wrote nothing), the size and the SHA-256.
//
// It is DB.Backup with one difference: one goroutine reads the store.
// DB.Backup streams key ranges from Options.NumGoroutines goroutines, each
// of which opens its own read transaction, so a commit landing between
// their starts is in one range and missing from another, while the
// version returned covers it: the next increment would never carry the
// missing part. One reading goroutine has one transaction, one read
// timestamp, and Badger gives it every transaction committed at or below
// that timestamp whole (it waits for them to be applied) and none above:
// an increment holds whole transactions only, however the owner commits
// meanwhile.
func writeBackup(kv *badger.DB, path string, since uint64) (version uint64, size int64, sum string, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	st := kv.NewStream()
	st.NumGo = 1
	st.LogPrefix = "clipfs publish"
	st.SinceTs = since
	// Backup writes versions above since (Badger's iterator drops those at
	// or below SinceTs), whatever its comment says: the next since is the
	// version it returns, unchanged.
	if version, err = st.Backup(bw, since); err != nil {
		return 0, 0, "", err
	}
	if err = bw.Flush(); err != nil {
		return 0, 0, "", err
	}
	if err = f.Sync(); err != nil {
		return 0, 0, "", err
	}
	return version, cw.n, hex.EncodeToString(h.Sum(nil)), nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// scanBackup calls fn with every entry of a backup stream (Badger's
// format: a little-endian uint64 length, then a protobuf KVList). A
// deleted key comes with an empty value.
func scanBackup(r io.Reader, fn func(kv *pb.KV) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var buf []byte
	for {
		var n uint64
		if err := binary.Read(br, binary.LittleEndian, &n); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if n > 1<<32 {
			return fmt.Errorf("backup stream: a list of %d bytes", n)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return err
		}
		var list pb.KVList
		if err := proto.Unmarshal(buf[:n], &list); err != nil {
			return fmt.Errorf("backup stream: %w", err)
		}
		for _, kv := range list.Kv {
			if err := fn(kv); err != nil {
				return err
			}
		}
	}
}
