package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// clipRow returns row i of a synthetic table: passed and filtered clips,
// with and without media, scores, captions and shards, so that every
// optional column has values and nulls.
func clipRow(i int) ClipRow {
	ptr := func(x float64) *float64 { return &x }
	id := fmt.Sprintf("3f1c0d7e-5a2b-5c4d-8e9f-%012x", i)
	r := ClipRow{
		ID:          id,
		SourceVideo: fmt.Sprintf("/data/in/videos/v%03d.mp4", i/37),
		SpanStart:   float64(i%37) * 10,
		SpanEnd:     float64(i%37)*10 + 9.966666666666667,
		Filtered:    i%5 == 3,
	}
	if i%7 != 6 { // media kept
		r.ClipPath = "clips/" + id + ".mp4"
		if r.Filtered {
			r.ClipPath = "filtered_clips/" + id + ".mp4"
		}
		r.Width, r.Height, r.FrameRate = 1920, 1080, 30000.0/1001
		r.NumFrames, r.NumBytes = 299, int64(1<<33+i*4099) // past 32 bits
	}
	if i%3 != 0 {
		r.MotionGlobalMean, r.MotionPerPatchMin256 = ptr(0.0123+float64(i)*1e-7), ptr(1e-06)
	}
	if i%4 != 0 {
		r.AestheticScore = ptr(4.5 + float64(i%100)/64)
	}
	if i%2 == 0 {
		c := fmt.Sprintf("A caf\u00e9 scene %d, \"quoted\"\n", i)
		if i%10 == 0 {
			c = ""
		}
		r.Caption = &c
	}
	if !r.Filtered && r.ClipPath != "" {
		shard := fmt.Sprintf("wds/shard-%06d.tar", i/100)
		off, size := int64(512+i%100*1536), int64(1000+i)
		r.Shard, r.ShardOffset, r.ShardSize = &shard, &off, &size
	}
	return r
}

func clipRows(n int) []ClipRow {
	rows := make([]ClipRow, n)
	for i := range rows {
		rows[i] = clipRow(i)
	}
	return rows
}

func writeClipTable(t testing.TB, rows []ClipRow) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewClipTableWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestClipTableRoundTrip(t *testing.T) {
	allNull := ClipRow{ID: "only", SourceVideo: "/v.mp4"}
	tests := []struct {
		name      string
		rows      []ClipRow
		rowGroups int
	}{
		{"no rows", nil, 0},
		{"nulls only", []ClipRow{allNull}, 1},
		{"1000 rows", clipRows(1000), 1},
		{"two row groups", clipRows(clipTableRowGroup + 5), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := writeClipTable(t, tt.rows)
			if again := writeClipTable(t, tt.rows); !bytes.Equal(b, again) {
				t.Fatal("not deterministic")
			}
			got, err := ReadClipTable(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.rows) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(tt.rows))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tt.rows[i]) {
					t.Fatalf("row %d: read\n%s\nwant\n%s", i, showClipRow(got[i]), showClipRow(tt.rows[i]))
				}
			}
			f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(f.RowGroups()); n != tt.rowGroups {
				t.Errorf("%d row groups, want %d", n, tt.rowGroups)
			}
			for _, rg := range f.Metadata().RowGroups {
				for _, cc := range rg.Columns {
					if cc.MetaData.Codec != format.Snappy {
						t.Fatalf("column %v: codec %v, want snappy", cc.MetaData.PathInSchema, cc.MetaData.Codec)
					}
				}
			}
		})
	}
}

// showClipRow prints a row with its pointers followed.
func showClipRow(r ClipRow) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// TestClipTableGolden pins the bytes, as TestEmbeddingParquetGolden does.
func TestClipTableGolden(t *testing.T) {
	b := writeClipTable(t, clipRows(12))
	path := filepath.Join("testdata", "parquet", "cliptable12.parquet")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readGolden(t, filepath.Join("parquet", "cliptable12.parquet")); !bytes.Equal(b, want) {
		t.Errorf("clip table bytes changed (%d bytes, golden %d); if intended, go test -run Golden -update", len(b), len(want))
	}
}

func TestClipTableWriterAfterClose(t *testing.T) {
	w := NewClipTableWriter(&bytes.Buffer{})
	if err := w.Write(clipRow(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(clipRow(2)); err == nil {
		t.Error("Write after Close: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close: no error")
	}
}

func TestReadClipTableRejects(t *testing.T) {
	good := writeClipTable(t, clipRows(20))
	for _, prefix := range truncations(good) {
		if _, err := ReadClipTable(prefix); !errors.Is(err, ErrBadClipTable) {
			t.Errorf("truncated to %d bytes: %v, want ErrBadClipTable", len(prefix), err)
		}
	}
	embeddings, err := EmbeddingParquet(embeddingRows(2, 4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadClipTable(embeddings); !errors.Is(err, ErrBadClipTable) {
		t.Errorf("embedding file read as a clip table: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 500; i++ { // corrupt files: rows or an error, never a panic
		bad := append([]byte(nil), good...)
		for k := 0; k <= rng.IntN(4); k++ {
			bad[rng.IntN(len(bad)-4)] ^= 1 << rng.IntN(8)
		}
		_, _ = ReadClipTable(bad)
	}
}

// TestClipTableMemory writes 200,000 rows with 400-byte captions that
// snappy cannot shrink much (80 MB in all) and checks that the live heap
// stays under 64 MiB: row groups are flushed as they fill. (A writer that
// kept everything until Close grows by about 90 MiB here.)
func TestClipTableMemory(t *testing.T) {
	const n, captionSize = 200_000, 400
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]byte, 4<<20) // captions are random windows of it
	for j := 0; j < len(pool); j += 8 {
		x := rng.Uint64()
		for k := range 8 {
			pool[j+k] = byte('a' + (x>>(8*k)&0xff)%26)
		}
	}
	sink := sha256.New()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	w := NewClipTableWriter(sink)
	for i := 0; i < n; i++ {
		r := clipRow(i)
		start := rng.IntN(len(pool) - captionSize)
		c := string(pool[start : start+captionSize])
		r.Caption = &c
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if i%10_000 == 9_999 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	growth := int64(peak) - int64(base)
	t.Logf("live heap grew by at most %.1f MiB over %d rows", float64(growth)/(1<<20), n)
	if growth > 64<<20 {
		t.Errorf("live heap grew by %d MiB writing %d rows, want < 64 MiB", growth>>20, n)
	}
}

// TestClipTableDuckDB reads the table with DuckDB: column types, nulls and
// every value.
func TestClipTableDuckDB(t *testing.T) {
	node, dir := requireDuckDB(t)
	rows := clipRows(300)
	path := filepath.Join(t.TempDir(), "index.parquet")
	if err := os.WriteFile(path, writeClipTable(t, rows), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "duckdb_select.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, script, dir, path).Output()
	if err != nil {
		t.Fatalf("duckdb_select.mjs: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Types []struct{ Name, Type string }
		Rows  []map[string]any
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	var wantTypes []struct{ Name, Type string }
	for _, c := range clipTableColumns {
		typ := map[parquet.Kind]string{parquet.ByteArray: "VARCHAR", parquet.Double: "DOUBLE",
			parquet.Int64: "BIGINT", parquet.Boolean: "BOOLEAN"}[c.kind]
		wantTypes = append(wantTypes, struct{ Name, Type string }{c.name, typ})
	}
	if !reflect.DeepEqual(got.Types, wantTypes) {
		t.Errorf("DuckDB types %v, want %v", got.Types, wantTypes)
	}
	if len(got.Rows) != len(rows) {
		t.Fatalf("DuckDB read %d rows, want %d", len(got.Rows), len(rows))
	}
	for i, r := range got.Rows {
		for k, v := range r { // DOUBLE: compare values, not their spelling
			if n, ok := v.(json.Number); ok {
				if r[k], err = n.Float64(); err != nil {
					t.Fatalf("row %d %s: %v", i, k, err)
				}
			}
		}
		if want := duckDBView(rows[i]); !reflect.DeepEqual(r, want) {
			t.Fatalf("row %d: DuckDB\n%v\nwant\n%v", i, r, want)
		}
	}
}

// duckDBView is a row as duckdb_select.mjs prints it and json.Decoder with
// UseNumber reads it: BIGINT as strings, DOUBLE as numbers (float64 once
// parsed), nulls as nil.
func duckDBView(r ClipRow) map[string]any {
	num := func(x float64) any { return x }
	optNum := func(p *float64) any {
		if p == nil {
			return nil
		}
		return num(*p)
	}
	optInt := func(p *int64) any {
		if p == nil {
			return nil
		}
		return strconv.FormatInt(*p, 10)
	}
	optStr := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return map[string]any{
		"id": r.ID, "source_video": r.SourceVideo, "span_start": num(r.SpanStart), "span_end": num(r.SpanEnd),
		"clip_path": r.ClipPath, "filtered": r.Filtered,
		"width": strconv.FormatInt(r.Width, 10), "height": strconv.FormatInt(r.Height, 10),
		"framerate": num(r.FrameRate), "num_frames": strconv.FormatInt(r.NumFrames, 10),
		"num_bytes":          strconv.FormatInt(r.NumBytes, 10),
		"motion_global_mean": optNum(r.MotionGlobalMean), "motion_per_patch_min_256": optNum(r.MotionPerPatchMin256),
		"aesthetic_score": optNum(r.AestheticScore), "caption": optStr(r.Caption),
		"shard": optStr(r.Shard), "shard_offset": optInt(r.ShardOffset), "shard_size": optInt(r.ShardSize),
	}
}
