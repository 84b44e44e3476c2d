package index

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/zeebo/xxh3"
)

// TestDigestRecordsXXH3: an adopted blob's b/ key records its XXH3-128
// beside its SHA-256, and a shard member copies both.
func TestDigestRecordsXXH3(t *testing.T) {
	db, cc := soundDB(t)
	c := cc.Clips[0]
	content, err := os.ReadFile(db.blobPath(c.Media.Blob))
	if err != nil {
		t.Fatal(err)
	}
	want := xxh3.Hash128(content).Bytes()
	db.kv.View(func(txn *badger.Txn) error {
		d, ok, err := recordedDigest(txn, c.Media.Blob)
		if err != nil || !ok || !d.hasFast || d.fast != want || d.sum != sha256.Sum256(content) {
			t.Errorf("b/ digest: fast %x (recorded %v), sha %x, ok %v, err %v; want fast %x", d.fast, d.hasFast, d.sum, ok, err, want)
		}
		return nil
	})
	samples, err := db.ShardSamples(0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range samples {
		if s.Clip == c.ID {
			found = true
			if s.Members[0].XXH3 != hex.EncodeToString(want[:]) {
				t.Errorf("shard member xxh3 %q, want %x", s.Members[0].XXH3, want)
			}
		}
	}
	if !found {
		t.Fatal("the clip is in no sample of shard 0")
	}
	for _, v := range [][]byte{{digestSHA256XXH3, 3, 1, 2}, {9, 1}} {
		if _, _, err := decodeDigest(v); err == nil {
			t.Errorf("decodeDigest(%x) accepted a bad value", v)
		}
	}
}

// TestVerifyOlderDigests: a blob whose b/ key records only the SHA-256 (a
// database from before XXH3) is verified by its SHA-256; and check
// --read-data compares the SHA-256 of a blob that records both, so a
// change the XXH3 recorded along with it would hide is still found.
func TestVerifyOlderDigests(t *testing.T) {
	db, cc := soundDB(t)
	old := cc.Clips[0].Media.Blob
	var d blobDigest
	db.kv.View(func(txn *badger.Txn) (err error) { d, _, err = recordedDigest(txn, old); return err })
	d.hasFast = false
	setKey(t, db, blobKey(old), d.encode())
	if v := d.encode(); v[0] != digestSHA256 || len(v) != 1+1+sha256.Size && len(v) != 1+2+sha256.Size && len(v) != 1+3+sha256.Size {
		t.Fatalf("an SHA-only digest encodes as %x", v)
	}
	if err := db.VerifyBlob(old); err != nil {
		t.Fatalf("a sound blob with an SHA-only digest: %v", err)
	}
	other := cc.Clips[1].Media.Blob
	db.kv.View(func(txn *badger.Txn) (err error) { d, _, err = recordedDigest(txn, other); return err })
	d.hasFast = false
	setKey(t, db, blobKey(other), d.encode())
	flipByte(t, db.blobPath(other), other)
	var ce *CorruptError
	if err := db.VerifyBlob(other); !errors.As(err, &ce) || !strings.Contains(ce.Detail, "sha256") {
		t.Fatalf("a damaged blob with an SHA-only digest: %v", err)
	}

	// Both recorded, the SHA-256 wrong: check names the blob (its shard
	// member's copy of the digest disagrees too).
	third := cc.Clips[2].Media.Blob
	db.kv.View(func(txn *badger.Txn) (err error) { d, _, err = recordedDigest(txn, third); return err })
	d.sum[0] ^= 0xff
	setKey(t, db, blobKey(third), d.encode())
	_, problems := runCheck(t, db, true)
	var hit bool
	for _, p := range problems {
		hit = hit || strings.Contains(p, third)
	}
	if !hit {
		t.Errorf("check --read-data missed a blob whose SHA-256 differs from its record:\n%s", strings.Join(problems, "\n"))
	}
	// What check compares (a full hash) and what a read compares (a quick one).
	full, err := hashFile(strings.NewReader("clip bytes"))
	if err != nil {
		t.Fatal(err)
	}
	quick, err := hashReader(strings.NewReader("clip bytes"), false)
	if err != nil {
		t.Fatal(err)
	}
	wrongSum := full
	wrongSum.sum[3] ^= 1
	wrongFast := full
	wrongFast.fast[3] ^= 1
	for _, c := range []struct {
		got, want blobDigest
		diff      string
	}{
		{full, full, ""}, {quick, full, ""}, {full, wrongSum, "sha256"}, {quick, wrongSum, ""},
		{quick, wrongFast, "xxh3"}, {full, wrongFast, "xxh3"},
	} {
		if got := digestDiff(c.got, c.want); c.diff == "" && got != "" || !strings.Contains(got, c.diff) {
			t.Errorf("digestDiff(noSum %v): %q, want %q", c.got.noSum, got, c.diff)
		}
	}
}

// TestHashFileAt: hashing a file in place (mapped) gives what hashing it
// by reads gives, full or quick, for an empty, a small and a large file.
func TestHashFileAt(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4<<20 + 13, 9 << 20} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + i>>11)
		}
		p := dir + "/f"
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, full := range []bool{true, false} {
			want, err := hashReader(strings.NewReader(string(b)), full)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hashFileAt(f, full)
			f.Close()
			if err != nil || got != want {
				t.Errorf("size %d full %v: hashFileAt %+v, %v; hashReader %+v", size, full, got, err, want)
			}
		}
	}
}
