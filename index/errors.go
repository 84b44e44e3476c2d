package index

import "errors"

var (
	// ErrNotFound reports a key, record or tree entry that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLocked reports a database held by another process.
	ErrLocked = errors.New("database is in use by another process (only one clipfs process may open it; use `clipfs serve` to curate and mount together)")
	// ErrNoDatabase reports a folder that holds no clipfs database.
	ErrNoDatabase = errors.New("no clipfs database here (create one with `clipfs curate --db DIR`)")
	// ErrReadOnly reports a write on a database opened read-only.
	ErrReadOnly = errors.New("database is opened read-only")
	// ErrCorrupt reports a blob whose bytes differ from the digest recorded
	// when it was adopted.
	ErrCorrupt = errors.New("content does not match its recorded digest")
	// ErrBlobMismatch reports a blob another machine put into the store
	// whose size there differs from the one it hashed (AdoptStored).
	ErrBlobMismatch = errors.New("stored blob differs from the one hashed")
)
