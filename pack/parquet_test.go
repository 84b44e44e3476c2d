package pack

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// embeddingRows returns n rows shaped like internvideo2 output: uuid ids and
// dim-long embeddings with awkward values (subnormal, huge, negative zero).
func embeddingRows(n, dim int) []EmbeddingRow {
	rows := make([]EmbeddingRow, n)
	state := uint64(n*1000 + dim)
	for i := range rows {
		emb := make([]float64, dim)
		for j := range emb { // exact arithmetic: the same bits on every platform
			state = state*6364136223846793005 + 1442695040888963407
			emb[j] = float64(state>>11)/(1<<52) - 1
		}
		if dim >= 3 {
			emb[0], emb[1], emb[2] = 5e-324, -1.7976931348623157e308, math.Copysign(0, -1)
		}
		rows[i] = EmbeddingRow{ID: "3f1c0d7e-5a2b-5c4d-8e9f-" + string(rune('a'+i%26)) + "00000000000", Embedding: emb}
	}
	return rows
}

func TestEmbeddingParquetRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rows []EmbeddingRow
	}{
		{"internvideo2 chunk", embeddingRows(32, 512)},
		{"cosmos-embed1 chunk", embeddingRows(3, 256)},
		{"single row", embeddingRows(1, 4)},
		{"empty embedding and id", []EmbeddingRow{{ID: "", Embedding: []float64{}}}},
		{"no rows", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EmbeddingParquet(tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			again, err := EmbeddingParquet(tt.rows)
			if err != nil || !bytes.Equal(b, again) {
				t.Fatalf("not deterministic: %v", err)
			}
			got, err := ReadEmbeddingParquet(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.rows) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(tt.rows))
			}
			for i := range got {
				if got[i].ID != tt.rows[i].ID || !sameFloats(got[i].Embedding, tt.rows[i].Embedding) {
					t.Fatalf("row %d: got %q %v, want %q %v", i, got[i].ID, head64(got[i].Embedding), tt.rows[i].ID, head64(tt.rows[i].Embedding))
				}
			}
		})
	}
}

// TestEmbeddingParquetGolden pins the bytes across processes and parquet-go
// versions: a filesystem may have stored the size of a file it serves. If a
// dependency upgrade changes them on purpose, rerun with -update.
func TestEmbeddingParquetGolden(t *testing.T) {
	b, err := EmbeddingParquet(embeddingRows(3, 8))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "parquet", "rows3x8.parquet")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readGolden(t, filepath.Join("parquet", "rows3x8.parquet")); !bytes.Equal(b, want) {
		t.Errorf("EmbeddingParquet bytes changed (%d bytes, golden %d); if intended, go test -run Golden -update", len(b), len(want))
	}
}

// sameFloats compares bit patterns (so -0 differs from 0).
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func head64(v []float64) []float64 { return v[:min(len(v), 4)] }

func TestReadEmbeddingParquetRejects(t *testing.T) {
	good, err := EmbeddingParquet(embeddingRows(4, 16))
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range truncations(good) {
		if _, err := ReadEmbeddingParquet(prefix); err == nil {
			t.Errorf("truncated to %d bytes: no error", len(prefix))
		} else if !errors.Is(err, ErrBadParquet) {
			t.Errorf("truncated to %d bytes: %v does not wrap ErrBadParquet", len(prefix), err)
		}
	}
}

// TestReadEmbeddingParquetCorrupt: randomly corrupted files give rows or an
// error, never a panic nor an allocation out of proportion to the file
// (parquet-go trusts declared sizes; see parquet_check.go).
func TestReadEmbeddingParquetCorrupt(t *testing.T) {
	good, err := EmbeddingParquet(embeddingRows(4, 16))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	var before, after runtime.MemStats
	for i := 0; i < 1500; i++ {
		bad := append([]byte(nil), good...)
		for k := 0; k <= rng.IntN(4); k++ {
			switch p := rng.IntN(len(bad) - 4); rng.IntN(3) {
			case 0:
				bad[p] ^= 1 << rng.IntN(8)
			case 1:
				bad[p] = byte(rng.IntN(256))
			default:
				copy(bad[p:], []byte{0xff, 0xff, 0xff, 0x7f})
			}
		}
		runtime.ReadMemStats(&before)
		_, _ = ReadEmbeddingParquet(bad)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("corruption %d: reading %d bytes allocated %d MiB", i, len(bad), n>>20)
		}
	}
}

func FuzzReadEmbeddingParquet(f *testing.F) {
	good, err := EmbeddingParquet(embeddingRows(2, 3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadEmbeddingParquet(b)
	})
}

// TestEmbeddingParquetDuckDB reads EmbeddingParquet's output with DuckDB and
// checks column types (VARCHAR, DOUBLE[]) and every value; then
// ReadEmbeddingParquet reads the copy DuckDB's own writer made.
func TestEmbeddingParquetDuckDB(t *testing.T) {
	node, dir := requireDuckDB(t)
	rows := embeddingRows(5, 512)
	b, err := EmbeddingParquet(rows)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chunk.parquet")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duckdb_read.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(filepath.Dir(path), "duckdb-written.parquet")
	out, err := exec.Command(node, script, dir, path, copyPath).Output()
	if err != nil {
		t.Fatalf("duckdb_read.mjs: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Types []struct{ Name, Type string }
		Rows  []struct {
			ID        string
			Embedding []float64
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	wantTypes := []struct{ Name, Type string }{{"id", "VARCHAR"}, {"embedding", "DOUBLE[]"}}
	if !reflect.DeepEqual(got.Types, wantTypes) {
		t.Errorf("DuckDB types %v, want %v", got.Types, wantTypes)
	}
	if len(got.Rows) != len(rows) {
		t.Fatalf("DuckDB read %d rows, want %d", len(got.Rows), len(rows))
	}
	for i, r := range got.Rows {
		// JSON has no negative zero; compare values, not bits.
		if r.ID != rows[i].ID || !reflect.DeepEqual(r.Embedding, rows[i].Embedding) {
			t.Errorf("row %d: DuckDB %q %v, want %q %v", i, r.ID, head64(r.Embedding), rows[i].ID, head64(rows[i].Embedding))
		}
	}
	foreign, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadEmbeddingParquet(foreign)
	if err != nil {
		t.Fatalf("reading DuckDB's parquet: %v", err)
	}
	if len(back) != len(rows) {
		t.Fatalf("DuckDB's file: %d rows, want %d", len(back), len(rows))
	}
	for i := range back {
		if back[i].ID != rows[i].ID || !sameFloats(back[i].Embedding, rows[i].Embedding) {
			t.Errorf("DuckDB's file row %d: %q %v, want %q %v", i, back[i].ID, head64(back[i].Embedding), rows[i].ID, head64(rows[i].Embedding))
		}
	}
}
