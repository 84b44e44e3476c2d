package index

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestFileCacheBoundsOpenFilesAndServesConcurrentReaders(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 20 {
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, []byte(fmt.Sprintf("file %02d", i)), 0o644)
		paths = append(paths, p)
	}
	before := openFDs(t)
	c := newFileCache(4)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (r*7 + k) % len(paths)
				cf, err := c.get(paths[i])
				if err != nil {
					errs <- err
					return
				}
				buf := make([]byte, 7)
				if _, err := cf.f.ReadAt(buf, 0); err != nil || string(buf) != fmt.Sprintf("file %02d", i) {
					errs <- fmt.Errorf("read %d: %q %v", i, buf, err)
				}
				c.put(cf)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if open := openFDs(t) - before; open > 4 {
		t.Errorf("%d files left open, cache holds at most 4", open)
	}
	c.close()
	if open := openFDs(t) - before; open != 0 {
		t.Errorf("%d files open after close", open)
	}
}
