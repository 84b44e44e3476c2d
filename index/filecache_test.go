package index

import (
	"context"
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
	store := NewFolderStore(dir)
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("blob-%02d", i)
		p, _ := store.LocalPath(name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprintf("file %02d", i)), 0o644)
		names = append(names, name)
	}
	before := openFDs(t)
	c := newFileCache(4, func(name string) (BlobReader, error) { return store.Open(context.Background(), name) })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (r*7 + k) % len(names)
				cf, err := c.get(names[i])
				if err != nil {
					errs <- err
					return
				}
				buf := make([]byte, 7)
				if _, err := cf.r.ReadAt(buf, 0); err != nil || string(buf) != fmt.Sprintf("file %02d", i) {
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
