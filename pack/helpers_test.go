package pack

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// systemPython is the interpreter with numpy (Debian's python3-numpy); the
// first python3 on PATH may lack it.
const systemPython = "/usr/bin/python3"

// update rewrites the goldens that Go itself produces (testdata/parquet).
// The Python-made goldens come from the scripts in testdata.
var update = flag.Bool("update", false, "rewrite Go-made golden files")

func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatalf("golden %s: %v (regenerate with the scripts in pack/testdata)", path, err)
	}
	return b
}

// skipUnlessCI skips the test when a tool it needs is missing, except in CI
// (CI set), where a missing tool is a failure.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requirePythonNumpy returns systemPython if it can import numpy.
func requirePythonNumpy(t *testing.T) string {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import numpy").Run(); err != nil {
		skipUnlessCI(t, "%s with numpy not available: %v", systemPython, err)
	}
	return systemPython
}

// requireDuckDB returns the node binary and a folder whose node_modules holds
// @duckdb/node-api: $CLIPFS_DUCKDB_DIR, else <repo>/test/tools/duckdb, else
// /tmp/duck.
func requireDuckDB(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipUnlessCI(t, "node not found: %v", err)
	}
	candidates := []string{filepath.Join("..", "test", "tools", "duckdb"), "/tmp/duck"}
	if env := os.Getenv("CLIPFS_DUCKDB_DIR"); env != "" {
		candidates = []string{env}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "node_modules", "@duckdb", "node-api", "package.json")); err == nil {
			abs, err := filepath.Abs(c)
			if err != nil {
				t.Fatal(err)
			}
			return node, abs
		}
	}
	skipUnlessCI(t, "@duckdb/node-api not installed in any of %v (run npm ci in test/tools/duckdb)", candidates)
	return "", ""
}

// truncations returns prefixes of b: every length up to 512, then a spread.
func truncations(b []byte) [][]byte {
	var out [][]byte
	step := 1
	for n := 0; n < len(b); n += step {
		if n >= 512 {
			step = max(1, len(b)/200)
		}
		out = append(out, b[:n])
	}
	return out
}
