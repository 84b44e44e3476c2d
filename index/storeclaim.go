package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// A database whose blobs live in a named store (Options.BlobsURI, such as
// s3://bucket/prefix) records that name in DB/STORE, with an id of its
// own; the store holds a blob named ownerBlob with the same id. Together
// they make two mistakes impossible: opening the database with another
// store (or none), and two databases sweeping one store, each deleting the
// other's blobs as orphans.
const (
	storeFile = "STORE"
	ownerBlob = "CLIPFS"
)

// ErrStoreMismatch is wrapped when a database is opened with a blob store
// other than the one it keeps its blobs in.
var ErrStoreMismatch = errors.New("opened with another blob store than the one it keeps its blobs in")

// StoreURI is the name of the store that the database in dir keeps its
// blobs in, as Options.BlobsURI gave it when the database was created; ""
// for its own folder (DB/blobs).
func StoreURI(dir string) (string, error) {
	uri, _, err := readStoreFile(dir)
	return uri, err
}

func readStoreFile(dir string) (uri, id string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, storeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("index: %s: %w", dir, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] == "" || uuid.Validate(lines[1]) != nil {
		return "", "", fmt.Errorf("index: %s: %s does not hold a store name and an id", dir, storeFile)
	}
	return lines[0], lines[1], nil
}

// checkStore holds the database in dir to the store it keeps its blobs
// in, recording a named store on first use (created: the database is new,
// so no blob of it lives anywhere else yet).
func checkStore(ctx context.Context, dir string, opts Options, created bool) error {
	uri, id, err := readStoreFile(dir)
	if err != nil {
		return err
	}
	want := opts.BlobsURI
	if opts.Blobs == nil {
		want = ""
	}
	switch {
	case uri == want && (uri == "" || opts.ReadOnly):
		return nil
	case uri == "" && !created:
		return fmt.Errorf("index: %s: %w: its blobs are in its own folder (blobs/), not %s", dir, ErrStoreMismatch, want)
	case uri != "" && uri != want:
		if want == "" {
			return fmt.Errorf("index: %s: %w: it keeps its blobs in %s (give --store %s)", dir, ErrStoreMismatch, uri, uri)
		}
		return fmt.Errorf("index: %s: %w: it keeps its blobs in %s, not %s", dir, ErrStoreMismatch, uri, want)
	case uri == "": // a new database with a named store: record it
		if opts.ReadOnly {
			return nil
		}
		id = uuid.NewString()
		if err := writeFileSync(filepath.Join(dir, storeFile), want+"\n"+id+"\n"); err != nil {
			return fmt.Errorf("index: %s: %w", dir, err)
		}
	}
	return claimStore(ctx, dir, opts.Blobs, want, id)
}

// cachingStore is a store in front of another that keeps copies of what
// it reads (a blobcache.Cache): the claim is read and written in the store
// behind it, since the claim, unlike a blob, is not the same bytes forever
// (another server, or a store emptied and claimed again).
type cachingStore interface{ Inner() BlobStore }

// claimStore makes sure the store's owner blob names this database, putting
// it in an empty store.
func claimStore(ctx context.Context, dir string, store BlobStore, uri, id string) error {
	for {
		w, ok := store.(cachingStore)
		if !ok {
			break
		}
		store = w.Inner()
	}
	r, err := store.Open(ctx, ownerBlob)
	if errors.Is(err, fs.ErrNotExist) {
		tmp := filepath.Join(dir, "tmp", "owner-"+id)
		if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
			return fmt.Errorf("index: %s: %w", dir, err)
		}
		if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
			return fmt.Errorf("index: %s: %w", dir, err)
		}
		if err := store.Put(ctx, ownerBlob, tmp); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("index: %s: claim %s: %w", dir, uri, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("index: %s: %s: %w", dir, uri, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return fmt.Errorf("index: %s: %s: %w", dir, uri, err)
	}
	if got := strings.TrimSpace(string(b)); got != id {
		return fmt.Errorf("index: %s: %w: %s holds the blobs of another database (id %s, this one is %s)", dir, ErrStoreMismatch, uri, got, id)
	}
	return nil
}

func writeFileSync(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
