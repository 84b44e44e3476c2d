package pack

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSource serves member contents from memory and enforces TarSource's
// contract: in range, never empty.
type memSource [][]byte

func (s memSource) ReadMember(i int, p []byte, off int64) (int, error) {
	if len(p) == 0 || off < 0 || off+int64(len(p)) > int64(len(s[i])) {
		return 0, fmt.Errorf("memSource: member %d: read [%d, %d) outside [0, %d)", i, off, off+int64(len(p)), len(s[i]))
	}
	return copy(p, s[i][off:]), nil
}

// tarCase is a shard plan with random contents and its reference archive.
type tarCase struct {
	name    string
	members []TarMember
	data    memSource
}

// newTarCase builds members of the given sizes, named like WebDataset
// samples, with random content from a seeded generator.
func newTarCase(name string, seed uint64, sizes ...int) tarCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	exts := []string{"mp4", "json", "txt", "iv2.npy"}
	c := tarCase{name: name}
	for i, size := range sizes {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		c.members = append(c.members, TarMember{
			Name:  fmt.Sprintf("3f1c0d7e-5a2b-5c4d-8e9f-%012d.%s", i/2, exts[i%len(exts)]),
			Size:  int64(size),
			MTime: 1700000000 + int64(i)*3661,
		})
		c.data = append(c.data, b)
	}
	return c
}

func tarCases() []tarCase {
	long := newTarCase("100-byte name", 3, 7)
	long.members[0].Name = strings.Repeat("k", 96) + ".mp4"
	epoch := newTarCase("mtime 0 and largest", 4, 3, 4)
	epoch.members[0].MTime, epoch.members[1].MTime = 0, tarMaxOctal-1
	return []tarCase{
		{name: "no members"},
		newTarCase("one empty member", 1),
		newTarCase("sizes 0 1 511 512 513 100000", 2, 0, 1, 511, 512, 513, 100000),
		long,
		epoch,
	}
}

// referenceTar writes the archive with archive/tar, independently of Tar.
func referenceTar(t testing.TB, members []TarMember, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, m := range members {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: m.Name, Size: m.Size, Mode: 0o644,
			ModTime: time.Unix(m.MTime, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("archive/tar: header %q: %v", m.Name, err)
		}
		if _, err := tw.Write(data[i]); err != nil {
			t.Fatalf("archive/tar: data %q: %v", m.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustTar(t testing.TB, members []TarMember) *Tar {
	t.Helper()
	tr, err := NewTar(members)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTarMatchesArchiveTar(t *testing.T) {
	for _, tc := range tarCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := referenceTar(t, tc.members, tc.data)
			tr := mustTar(t, tc.members)
			if tr.Size() != int64(len(want)) || tr.Len() != len(tc.members) {
				t.Fatalf("Size %d Len %d, archive/tar wrote %d bytes for %d members", tr.Size(), tr.Len(), len(want), len(tc.members))
			}
			got := make([]byte, tr.Size())
			if n, err := tr.ReadAt(tc.data, got, 0); n != len(got) || err != nil {
				t.Fatalf("ReadAt whole archive: %d, %v", n, err)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("byte %d differs from archive/tar: %s", i, diffContext(got, want, i))
			}
			for i, m := range tc.members {
				h, off := tr.Header(i), tr.DataOffset(i)
				if !bytes.Equal(h[:], want[off-512:off]) || !bytes.Equal(want[off:off+m.Size], tc.data[i]) {
					t.Errorf("member %d %q: header or DataOffset %d wrong", i, m.Name, off)
				}
				if tr.Member(i) != m {
					t.Errorf("Member(%d) = %+v, want %+v", i, tr.Member(i), m)
				}
			}
			var streamed bytes.Buffer
			n, err := WriteTar(&streamed, tr, tc.data)
			if err != nil || n != int64(len(want)) || !bytes.Equal(streamed.Bytes(), want) {
				t.Errorf("WriteTar: %d bytes, %v; differs from archive/tar", n, err)
			}
		})
	}
}

// TestTarHeaderEdges compares headers alone for values too large to back
// with data: archive/tar writes a header before it sees any data.
func TestTarHeaderEdges(t *testing.T) {
	for _, m := range []TarMember{
		{Name: "a", Size: tarMaxOctal - 1, MTime: tarMaxOctal - 1},
		{Name: strings.Repeat("z", 100), Size: 1 << 32, MTime: 1},
		{Name: "sub/dir/x.json", Size: 0o7777777, MTime: 0o12345670123},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: m.Name, Size: m.Size, Mode: 0o644,
			ModTime: time.Unix(m.MTime, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		h := mustTar(t, []TarMember{m}).Header(0)
		if i := firstDiff(h[:], buf.Bytes()); i >= 0 {
			t.Errorf("%+v: header byte %d differs: %s", m, i, diffContext(h[:], buf.Bytes(), i))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func diffContext(got, want []byte, i int) string {
	lo := max(0, i-8)
	return fmt.Sprintf("got %q, want %q", got[lo:min(len(got), i+8)], want[lo:min(len(want), i+8)])
}

// checkReadAt compares one ReadAt with the same slice of the reference.
func checkReadAt(tr *Tar, src TarSource, ref []byte, off int64, length int) error {
	p := make([]byte, length)
	n, err := tr.ReadAt(src, p, off)
	wantN := int(max(0, min(int64(length), int64(len(ref))-off)))
	wantEOF := wantN < length || off >= int64(len(ref))
	switch {
	case n != wantN:
		return fmt.Errorf("ReadAt(%d bytes at %d) = %d bytes, want %d (%v)", length, off, n, wantN, err)
	case wantEOF && err != io.EOF, !wantEOF && err != nil:
		return fmt.Errorf("ReadAt(%d bytes at %d): err %v, want EOF %v", length, off, err, wantEOF)
	case n > 0 && !bytes.Equal(p[:n], ref[off:off+int64(n)]):
		return fmt.Errorf("ReadAt(%d bytes at %d): bytes differ from archive/tar", length, off)
	}
	return nil
}

func TestTarReadAtRandom(t *testing.T) {
	for _, tc := range tarCases() {
		t.Run(tc.name, func(t *testing.T) {
			ref := referenceTar(t, tc.members, tc.data)
			tr := mustTar(t, tc.members)
			size := int64(len(ref))
			rng := rand.New(rand.NewPCG(9, uint64(len(ref))))
			type read struct {
				off    int64
				length int
			}
			reads := []read{{0, 0}, {size, 0}, {size, 1}, {size + 100, 10}, {size - 1, 1}, {size - 1, 2}, {0, int(size) + 4096}}
			for k := 0; k < 2000; k++ {
				off := rng.Int64N(size + 600)
				var length int
				switch k % 4 {
				case 0:
					length = 1
				case 1:
					length = rng.IntN(1100) // within a block or two
				case 2:
					length = rng.IntN(int(size) + 1) // across many members
				default:
					length = int(size-off) + rng.IntN(2000) - 1000 // around the end
				}
				reads = append(reads, read{off, max(0, length)})
			}
			for _, r := range reads {
				if err := checkReadAt(tr, tc.data, ref, r.off, r.length); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tr.ReadAt(tc.data, make([]byte, 1), -1); err == nil {
				t.Error("ReadAt at -1: no error")
			}
		})
	}
}

// TestTarReadAtConcurrent: 8 goroutines reading one Tar agree with the
// reference (run with -race).
func TestTarReadAtConcurrent(t *testing.T) {
	tc := newTarCase("concurrent", 5, 0, 1, 511, 512, 513, 100000, 70000, 3)
	ref := referenceTar(t, tc.members, tc.data)
	tr := mustTar(t, tc.members)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 77))
			for k := 0; k < 500; k++ {
				off := rng.Int64N(int64(len(ref)) + 100)
				if err := checkReadAt(tr, tc.data, ref, off, rng.IntN(3*512+200)); err != nil {
					errs <- fmt.Errorf("goroutine %d: %w", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// faultySource delegates to memSource but fails or comes up short on one
// member.
type faultySource struct {
	memSource
	bad   int
	short bool
	eof   bool // return len(p) with io.EOF everywhere: allowed
}

var errDisk = errors.New("disk on fire")

func (s faultySource) ReadMember(i int, p []byte, off int64) (int, error) {
	n, err := s.memSource.ReadMember(i, p, off)
	switch {
	case err != nil:
		return n, err
	case s.eof:
		return n, io.EOF
	case i != s.bad:
	case s.short:
		return n - 1, nil
	default:
		return n / 2, errDisk
	}
	return n, nil
}

func TestTarSourceErrors(t *testing.T) {
	tc := newTarCase("faulty", 6, 100, 2000, 10)
	tr := mustTar(t, tc.members)
	ref := referenceTar(t, tc.members, tc.data)
	tests := []struct {
		name   string
		src    faultySource
		target error // nil: the read succeeds
	}{
		{"error", faultySource{memSource: tc.data, bad: 1}, errDisk},
		{"short read", faultySource{memSource: tc.data, bad: 1, short: true}, io.ErrUnexpectedEOF},
		{"full read with EOF", faultySource{memSource: tc.data, bad: -1, eof: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// From the start, from member 1's header, from inside its data.
			for _, off := range []int64{0, tr.DataOffset(1) - 512, tr.DataOffset(1) + 700} {
				p := make([]byte, tr.Size()-off)
				n, err := tr.ReadAt(tt.src, p, off)
				if tt.target == nil {
					if err != nil || n != len(p) || !bytes.Equal(p, ref[off:]) {
						t.Errorf("at %d: %d, %v; want the reference", off, n, err)
					}
					continue
				}
				if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tc.members[1].Name) {
					t.Errorf("at %d: err %v, want one wrapping %v naming %q", off, err, tt.target, tc.members[1].Name)
				}
				if n >= len(p) || !bytes.Equal(p[:n], ref[off:off+int64(n)]) {
					t.Errorf("at %d: n = %d of %d, or the bytes before the fault differ", off, n, len(p))
				}
			}
			_, err := WriteTar(io.Discard, tr, tt.src)
			if (tt.target == nil) != (err == nil) || (tt.target != nil && !errors.Is(err, tt.target)) {
				t.Errorf("WriteTar: %v, want %v", err, tt.target)
			}
		})
	}
}

func TestNewTarRejects(t *testing.T) {
	tests := []struct {
		name   string
		member TarMember
	}{
		{"empty name", TarMember{Name: ""}},
		{"101-byte name", TarMember{Name: strings.Repeat("a", 97) + ".mp4"}},
		{"non-ASCII name", TarMember{Name: "clip-é.mp4"}},
		{"NUL in name", TarMember{Name: "a\x00b.mp4"}},
		{"folder name", TarMember{Name: "clips/"}},
		{"negative size", TarMember{Name: "a.mp4", Size: -1}},
		{"8 GiB", TarMember{Name: "a.mp4", Size: 8 << 30}},
		{"negative mtime", TarMember{Name: "a.mp4", MTime: -1}},
		{"mtime past 2242", TarMember{Name: "a.mp4", MTime: tarMaxOctal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := TarMember{Name: "first.json", Size: 3}
			_, err := NewTar([]TarMember{ok, tt.member})
			if !errors.Is(err, ErrTarMember) || !strings.Contains(err.Error(), "member 1 ") {
				t.Errorf("NewTar(%+v) = %v, want ErrTarMember naming member 1", tt.member, err)
			}
		})
	}
	if _, err := NewTar([]TarMember{{Name: strings.Repeat("a", 96) + ".mp4", Size: 8<<30 - 1}}); err != nil {
		t.Errorf("100-byte name, 8 GiB - 1: %v", err)
	}
}

// writeTarFile writes the archive to a temporary file for external readers.
func writeTarFile(t *testing.T, tr *Tar, src TarSource) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shard-000000.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteTar(f, tr, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTarGNUTar lists and extracts the archive with GNU tar.
func TestTarGNUTar(t *testing.T) {
	gnutar, err := exec.LookPath("tar")
	if err != nil {
		skipUnlessCI(t, "tar not found: %v", err)
	}
	tc := newTarCase("gnu", 7, 0, 1, 511, 512, 513, 100000)
	tr := mustTar(t, tc.members)
	path := writeTarFile(t, tr, tc.data)
	out, err := exec.Command(gnutar, "--utc", "--numeric-owner", "-tvf", path).Output()
	if err != nil {
		t.Fatalf("tar -tvf: %v\n%s", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(tc.members) {
		t.Fatalf("tar -tvf listed %d members, want %d:\n%s", len(lines), len(tc.members), out)
	}
	for i, line := range lines {
		m := tc.members[i]
		f := strings.Fields(line) // -rw-r--r-- 0/0 511 2023-11-14 22:13 name
		stamp := time.Unix(m.MTime, 0).UTC().Format("2006-01-02 15:04")
		if len(f) != 6 || f[0] != "-rw-r--r--" || f[1] != "0/0" || f[2] != strconv.FormatInt(m.Size, 10) ||
			f[3]+" "+f[4] != stamp || f[5] != m.Name {
			t.Errorf("tar -tvf line %d: %q, want a 0/0 -rw-r--r-- file %q of %d bytes at %s", i, line, m.Name, m.Size, stamp)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command(gnutar, "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf: %v\n%s", err, out)
	}
	for i, m := range tc.members {
		if b, err := os.ReadFile(filepath.Join(dir, m.Name)); err != nil || !bytes.Equal(b, tc.data[i]) {
			t.Errorf("tar -xf %q: %v, or bytes differ", m.Name, err)
		}
	}
}

// pythonTarList lists a tar with Python's tarfile and hashes what
// extractfile and extractall give for each member.
const pythonTarList = `
import hashlib, json, os, sys, tarfile
path, dest = sys.argv[1], sys.argv[2]
out = []
with tarfile.open(path, "r:") as tf:
    for m in tf.getmembers():
        data = tf.extractfile(m).read()
        out.append({"name": m.name, "size": m.size, "mode": m.mode, "uid": m.uid, "gid": m.gid,
                    "mtime": m.mtime, "type": m.type.decode(), "sha256": hashlib.sha256(data).hexdigest()})
    kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    tf.extractall(dest, **kw)
for m in out:
    with open(os.path.join(dest, m["name"]), "rb") as f:
        m["extracted"] = hashlib.sha256(f.read()).hexdigest()
print(json.dumps(out))
`

// TestTarPythonTarfile reads the archive with Debian's Python tarfile, the
// module webdataset and wids read shards with.
func TestTarPythonTarfile(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		skipUnlessCI(t, "%s not available: %v", systemPython, err)
	}
	tc := newTarCase("python", 8, 0, 1, 511, 512, 513, 100000)
	tr := mustTar(t, tc.members)
	path := writeTarFile(t, tr, tc.data)
	out, err := exec.Command(systemPython, "-c", pythonTarList, path, t.TempDir()).Output()
	if err != nil {
		t.Fatalf("python tarfile: %v\n%s", err, stderrOf(err))
	}
	var got []struct {
		Name                    string
		Size, Mode, UID, GID    int64
		MTime                   int64
		Type, Sha256, Extracted string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	if len(got) != len(tc.members) {
		t.Fatalf("tarfile lists %d members, want %d", len(got), len(tc.members))
	}
	for i, g := range got {
		m := tc.members[i]
		sum := sha256.Sum256(tc.data[i])
		want := hex.EncodeToString(sum[:])
		if g.Name != m.Name || g.Size != m.Size || g.Mode != 0o644 || g.UID != 0 || g.GID != 0 ||
			g.MTime != m.MTime || g.Type != "0" || g.Sha256 != want || g.Extracted != want {
			t.Errorf("member %d: tarfile sees %+v, want %+v with sha256 %s", i, g, m, want)
		}
	}
}

// BenchmarkTarReadAt reads 1 MiB at a time through a shard of 1000 members
// of 1 MiB each; every member shares one buffer to keep the benchmark small.
func BenchmarkTarReadAt(b *testing.B) {
	const memberSize = 1 << 20
	blob := make([]byte, memberSize)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	members := make([]TarMember, 1000)
	blobs := make(memSource, len(members))
	for i := range members {
		members[i] = TarMember{Name: fmt.Sprintf("%032x.mp4", i), Size: memberSize, MTime: 1700000000}
		blobs[i] = blob
	}
	var src TarSource = blobs
	tr := mustTar(b, members)
	p := make([]byte, 1<<20)
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	var off int64
	for b.Loop() {
		if off >= tr.Size() {
			off = 0
		}
		n, err := tr.ReadAt(src, p, off)
		if err != nil && err != io.EOF {
			b.Fatal(err)
		}
		off += int64(n)
	}
}
