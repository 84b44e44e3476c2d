package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// duckdbDir is where test/tools/duckdb's node_modules live.
func duckdbDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("CLIPFS_DUCKDB_DIR"), filepath.Join(repoRoot, "test", "tools", "duckdb"), "/tmp/duck"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "node_modules", "@duckdb", "node-api")); err == nil {
			return d
		}
	}
	_, err := exec.LookPath("node")
	need(t, false, "DuckDB's node client (npm install in test/tools/duckdb)"+map[bool]string{true: "", false: " and node"}[err == nil])
	return ""
}

// duckRead runs SELECT id, embedding FROM read_parquet(file) in DuckDB.
func duckRead(t *testing.T, file string) (types map[string]string, rows []struct {
	ID        string    `json:"id"`
	Embedding []float64 `json:"embedding"`
}) {
	t.Helper()
	dir := duckdbDir(t)
	script := filepath.Join(repoRoot, "pack", "testdata", "duckdb_read.mjs")
	out, err := exec.Command("node", script, dir, file).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("duckdb %s: %v\n%s", file, err, stderr)
	}
	var res struct {
		Types []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"types"`
		Rows []struct {
			ID        string    `json:"id"`
			Embedding []float64 `json:"embedding"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	types = map[string]string{}
	for _, c := range res.Types {
		types[c.Name] = c.Type
	}
	return types, res.Rows
}

// checkParquet reads every <p>_embd_parquet file with DuckDB: one row per
// passed clip with an embedding, VARCHAR ids and DOUBLE[] vectors.
func checkParquet(t *testing.T, root string, want placed) {
	t.Helper()
	for prefix, clips := range want {
		files, _ := filepath.Glob(filepath.Join(root, prefix+"_embd_parquet", "*.parquet"))
		if len(files) == 0 {
			t.Errorf("%s_embd_parquet is empty", prefix)
			continue
		}
		seen := 0
		for _, f := range files {
			types, rows := duckRead(t, f)
			if types["id"] != "VARCHAR" || types["embedding"] != "DOUBLE[]" {
				t.Errorf("%s: column types %v", f, types)
			}
			for _, r := range rows {
				vals, ok := clips[r.ID]
				if !ok || !slices.Equal(r.Embedding, vals) {
					t.Errorf("%s: row %s differs from the vector placed", f, r.ID)
				}
				seen++
			}
		}
		if seen != len(clips) {
			t.Errorf("%s parquet rows %d, want %d", prefix, seen, len(clips))
		}
	}
}

// checkClipTable reads index.parquet with DuckDB: one row per clip (as
// many as metas/v0 holds), and each passed clip's (shard, shard_offset,
// shard_size) fetches exactly its mp4 bytes with one ranged read.
func checkClipTable(t *testing.T, root string) {
	t.Helper()
	dir := duckdbDir(t)
	out, err := exec.Command("node", filepath.Join(repoRoot, "pack", "testdata", "duckdb_select.mjs"), dir,
		filepath.Join(root, "index.parquet")).Output()
	if err != nil {
		t.Fatalf("duckdb index.parquet: %v", err)
	}
	var res struct {
		Rows []struct {
			ID          string  `json:"id"`
			ClipPath    string  `json:"clip_path"`
			Shard       *string `json:"shard"`
			ShardOffset *string `json:"shard_offset"`
			ShardSize   *string `json:"shard_size"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	metas, _ := os.ReadDir(filepath.Join(root, "metas", "v0"))
	if len(res.Rows) != len(metas) || len(metas) == 0 {
		t.Fatalf("index.parquet has %d rows, metas/v0 %d files", len(res.Rows), len(metas))
	}
	for _, r := range res.Rows {
		if r.Shard == nil {
			t.Errorf("%s: in no shard", r.ID)
			continue
		}
		var off, size int64
		fmt.Sscan(*r.ShardOffset, &off)
		fmt.Sscan(*r.ShardSize, &size)
		f, err := os.Open(filepath.Join(root, *r.Shard))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		_, err = f.ReadAt(got, off)
		f.Close()
		want, werr := os.ReadFile(filepath.Join(root, r.ClipPath))
		if err != nil || werr != nil || !slices.Equal(got, want) {
			t.Errorf("%s: bytes at %s+%d (%d) are not %s: %v %v", r.ID, *r.Shard, off, size, r.ClipPath, err, werr)
		}
	}
}
