package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// soundDB is a database with two videos' clips, a sealed shard and an open
// one, and a published root file.
func soundDB(t *testing.T) (*DB, ChunkCommit) {
	t.Helper()
	db := openTemp(t)
	cc := commitWithSamples(t, db, "/in/a.mp4", "fp", 3, ShardLimits{MaxSamples: 2})
	commitWithSamples(t, db, "/in/b.mp4", "fp", 2, ShardLimits{MaxSamples: 2})
	if err := db.PublishFile(ClipTableName, writeBlob(t, db, "table")); err != nil {
		t.Fatal(err)
	}
	return db, cc
}

func runCheck(t *testing.T, db *DB, readData bool) (CheckStats, []string) {
	t.Helper()
	var problems []string
	st, err := db.Check(context.Background(), CheckOptions{ReadData: readData}, func(p Problem) {
		problems = append(problems, p.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Problems != len(problems) {
		t.Fatalf("%d problems counted, %d reported", st.Problems, len(problems))
	}
	return st, problems
}

func TestAdoptRecordsDigest(t *testing.T) {
	db, cc := soundDB(t)
	c := cc.Clips[0]
	content, _ := os.ReadFile(db.blobPath(c.Media.Blob))
	want := sha256.Sum256(content)
	err := db.kv.View(func(txn *badger.Txn) error {
		d, ok, err := recordedDigest(txn, c.Media.Blob)
		if err != nil || !ok || d.sum != want || d.size != int64(len(content)) {
			t.Errorf("b/ digest %x size %d ok %v err %v; want %x size %d", d.sum, d.size, ok, err, want, len(content))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	samples, err := db.ShardSamples(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if s.Clip == c.ID && s.Members[0].SHA256 != hex.EncodeToString(want[:]) {
			t.Errorf("shard member digest %q, want %x", s.Members[0].SHA256, want)
		}
	}
	if cc.Samples[0].Members[0].SHA256 != "" {
		t.Error("the caller's samples were changed")
	}
	if len(db.adopted.digests) != 0 {
		t.Errorf("%d adopted digests left after their commits", len(db.adopted.digests))
	}
	b := writeBlob(t, db, "never committed")
	if _, ok := db.adopted.get(b.Name); !ok || b.SHA256 != sha256.Sum256([]byte("never committed")) {
		t.Fatalf("AdoptBlob: %x, pending %v", b.SHA256, ok)
	}
	db.DiscardBlob(b.Name)
	if _, ok := db.adopted.get(b.Name); ok {
		t.Error("DiscardBlob kept the digest")
	}
}

func TestCheckSoundDatabase(t *testing.T) {
	db, _ := soundDB(t)
	for _, readData := range []bool{false, true} {
		st, problems := runCheck(t, db, readData)
		if len(problems) > 0 || st.NoDigest != 0 {
			t.Fatalf("read data %v: %d without digest, problems:\n%s", readData, st.NoDigest, strings.Join(problems, "\n"))
		}
		// 5 clips + 1 table
		if st.Blobs != 6 || st.Records == 0 {
			t.Errorf("read data %v: %+v", readData, st)
		}
		if readData && st.BytesRead == 0 {
			t.Errorf("read no bytes: %+v", st)
		}
	}
}

// TestCheckFindsDamage damages a sound database in one way each and checks
// that exactly the damage is reported, naming the file.
func TestCheckFindsDamage(t *testing.T) {
	cases := []struct {
		name     string
		readData bool
		damage   func(t *testing.T, db *DB, cc ChunkCommit) string // returns what the lines must name
		want     string
		lines    int // 0: one
	}{
		{"flipped byte", true, func(t *testing.T, db *DB, cc ChunkCommit) string {
			return flipByte(t, db.blobPath(cc.Clips[0].Media.Blob), cc.Clips[0].Media.Blob)
		}, "does not match its recorded digest", 0},
		{"deleted blob", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			os.Remove(db.blobPath(cc.Clips[1].Media.Blob)) // the filtered clip: no shard holds it
			return "blob " + cc.Clips[1].Media.Blob + " (clip " + cc.Clips[1].ID.String() + ")"
		}, "is missing", 0},
		{"truncated blob", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			os.Truncate(db.blobPath(cc.Clips[1].Media.Blob), 3)
			return "blob " + cc.Clips[1].Media.Blob + " (clip " + cc.Clips[1].ID.String() + ")"
		}, "size 3, record says", 0},
		{"orphan file", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			p := db.blobPath("0123-orphan.mp4")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("x"), 0o644)
			return "blob 0123-orphan.mp4"
		}, "referenced by no record", 0},
		{"clip record gone", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			deleteKey(t, db, clipKey(cc.Clips[1].ID))
			return "clip " + cc.Clips[1].ID.String() // its metas and filtered_clips entries
		}, "has no record", 2},
		{"tree entry size", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			c := cc.Clips[0]
			setKey(t, db, entryKey(DirClips, c.ID.String()+".mp4"), encodeEntry(Entry{Kind: KindBlob, Size: 1, MTime: 1, Ref: c.Media.Blob}))
			return "entry clips/" + c.ID.String() + ".mp4"
		}, "size 1, its clip says", 0},
		{"b/ key gone", false, func(t *testing.T, db *DB, cc ChunkCommit) string {
			deleteKey(t, db, blobKey(cc.Clips[1].Media.Blob))
			return "blob " + cc.Clips[1].Media.Blob + " (clip "
		}, "no b/ key references it", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, cc := soundDB(t)
			names := tc.damage(t, db, cc)
			if tc.readData {
				if _, problems := runCheck(t, db, false); len(problems) > 0 {
					t.Fatalf("found without reading data: %v", problems)
				}
			}
			_, problems := runCheck(t, db, tc.readData)
			ok := len(problems) == max(tc.lines, 1)
			for _, p := range problems {
				ok = ok && strings.Contains(p, names) && strings.Contains(p, tc.want)
			}
			if !ok {
				t.Fatalf("want %d lines naming %q with %q, got:\n%s", max(tc.lines, 1), names, tc.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// TestCheckShardMemberGone: a sealed shard keeps the blobs of a video curated
// again; one of them gone is reported as the shard's member.
func TestCheckShardMemberGone(t *testing.T) {
	db := openTemp(t)
	old := commitWithSamples(t, db, "/in/a.mp4", "fp1", 3, ShardLimits{MaxSamples: 2}) // seals shard 0
	commitWithSamples(t, db, "/in/a.mp4", "fp2", 3, ShardLimits{MaxSamples: 2})
	if _, problems := runCheck(t, db, true); len(problems) > 0 {
		t.Fatalf("after re-curation: %v", problems)
	}
	gone := old.Clips[0].Media.Blob
	if _, err := os.Stat(db.blobPath(gone)); err != nil {
		t.Fatalf("the sealed shard lost its blob: %v", err)
	}
	// The shard-only blob keeps its digest, in the member: served bytes are verified.
	flipByte(t, db.blobPath(gone), gone)
	if err := db.verifyMember(ShardMember{Blob: gone}); err != nil {
		t.Fatalf("member without its digest, b/ key gone: %v", err)
	}
	content, err := db.OpenShardContent(0)
	if err != nil {
		t.Fatal(err)
	}
	defer content.Close()
	member := -1
	for i, f := range content.Files {
		if f.Clip == old.Clips[0].ID && f.Ext == "mp4" {
			member = i
		}
	}
	if _, err := content.ReadMember(member, make([]byte, 1), 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading a corrupt member: %v, want ErrCorrupt", err)
	}
	os.Remove(db.blobPath(gone))
	_, problems := runCheck(t, db, false)
	if len(problems) != 1 || !strings.Contains(problems[0], "blob "+gone+" (wds/shard-000000.tar member ") || !strings.Contains(problems[0], "missing") {
		t.Fatalf("want the shard member named, got:\n%s", strings.Join(problems, "\n"))
	}
}

// TestCheckOldDatabase: b/ keys without digests (databases from before them)
// are counted, not reported.
func TestCheckOldDatabase(t *testing.T) {
	db, _ := soundDB(t)
	err := db.kv.Update(func(txn *badger.Txn) error {
		return scanKeys(txn, "b/", func(k []byte) error { return txn.Set(k, nil) })
	})
	if err != nil {
		t.Fatal(err)
	}
	samples := 0
	old := map[string]string{}
	err = db.kv.View(func(txn *badger.Txn) error {
		return scan(txn, "s/", func(key string, v []byte) error {
			old[key] = strings.ReplaceAll(string(v), `"sha256":`, `"old":`)
			return nil
		})
	})
	for k, v := range old {
		setKey(t, db, []byte(k), []byte(v))
		samples++
	}
	if err != nil || samples == 0 {
		t.Fatal(err, samples)
	}
	st, problems := runCheck(t, db, true)
	if len(problems) > 0 || st.NoDigest != 6 {
		t.Fatalf("%d without digest (want 6), problems: %v", st.NoDigest, problems)
	}
}

func TestVerifyBlob(t *testing.T) {
	db, cc := soundDB(t)
	name := cc.Clips[0].Media.Blob
	if err := db.VerifyBlob(name); err != nil {
		t.Fatal(err)
	}
	flipByte(t, db.blobPath(name), name)
	if err := db.VerifyBlob(name); err != nil {
		t.Fatalf("verdict not kept: %v", err)
	}
	other := cc.Clips[1].Media.Blob
	flipByte(t, db.blobPath(other), other)
	var ce *CorruptError
	if err := db.VerifyBlob(other); !errors.As(err, &ce) || ce.Blob != other || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt blob: %v", err)
	}
	if err := db.VerifyBlob("nope.mp4"); err != nil {
		t.Fatalf("a blob without digest: %v", err)
	}
}

func flipByte(t *testing.T, path, name string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "blob " + name
}

func deleteKey(t *testing.T, db *DB, k []byte) {
	t.Helper()
	if err := db.kv.Update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
		t.Fatal(err)
	}
}

func setKey(t *testing.T, db *DB, k, v []byte) {
	t.Helper()
	if err := db.kv.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
		t.Fatal(err)
	}
}

func scanKeys(txn *badger.Txn, prefix string, fn func(k []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.PrefetchValues = []byte(prefix), false
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item().KeyCopy(nil)); err != nil {
			return err
		}
	}
	return nil
}

// TestShardVerifyAhead: reading a shard's blob members in order has the
// next one verified before it is read.
func TestShardVerifyAhead(t *testing.T) {
	db := openTemp(t)
	commitWithSamples(t, db, "/in/a.mp4", "fp", 8, ShardLimits{}) // 7 passed
	if _, err := db.SealOpenShard(); err != nil {
		t.Fatal(err)
	}
	c, err := db.OpenShardContent(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.blobs) != 7 {
		t.Fatalf("%d blob members", len(c.blobs))
	}
	for _, pos := range []int{0, 1} {
		if _, err := c.ReadMember(c.blobs[pos], make([]byte, 4), 0); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !c.verified[c.blobs[2]].Load() {
		if time.Now().After(deadline) {
			t.Fatal("the next member was not verified ahead")
		}
		time.Sleep(time.Millisecond)
	}
}
