package curate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipfs/clipfs/index"
)

// ChunkResult is what curating one chunk of a video produced, ready to be
// committed as one unit: the records, and the media files they name, staged
// but not yet blobs. A video with no clip to commit (too short) is a result
// without a chunk. It is plain data (JSON), so that a worker on another
// machine can ship it to the index owner.
type ChunkResult struct {
	Video index.VideoRecord  `json:"video"`
	Chunk *index.ChunkRecord `json:"chunk,omitempty"` // nil: the video alone
	Clips []index.ClipRecord `json:"clips,omitempty"`
	// Embeddings of the passed clips.
	Embeddings []index.EmbeddingRecord `json:"embeddings,omitempty"`
	// Samples go to the open WebDataset shard, in order.
	Samples []index.ShardSample `json:"samples,omitempty"`
	// Blobs are the staged files that Clips and Samples name.
	Blobs []StagedBlob `json:"blobs,omitempty"`
}

// StagedBlob is a finished media file that is not a blob yet: committing
// its chunk makes it one, under Name (the name the records use).
type StagedBlob struct {
	Name   string   `json:"name"`
	Path   string   `json:"path"` // where the file is, on the machine that curated it
	Size   int64    `json:"size"`
	SHA256 [32]byte `json:"sha256"`
}

// stage describes the finished file at path as a StagedBlob named after
// it, taking its size and digest.
func stage(path string) (StagedBlob, error) {
	f, err := os.Open(path)
	if err != nil {
		return StagedBlob{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return StagedBlob{}, fmt.Errorf("%s: %w", path, err)
	}
	b := StagedBlob{Name: filepath.Base(path), Path: path, Size: n}
	h.Sum(b.SHA256[:0])
	return b, nil
}

// Discard removes the staged files of a result that will not be committed.
func (res *ChunkResult) Discard() {
	for _, b := range res.Blobs {
		os.Remove(b.Path)
	}
}

// MarshalJSON and UnmarshalJSON write the digest in hex, as sha256sum does.
func (b StagedBlob) MarshalJSON() ([]byte, error) {
	type plain StagedBlob
	return json.Marshal(struct {
		plain
		SHA256 string `json:"sha256"`
	}{plain(b), hex.EncodeToString(b.SHA256[:])})
}

func (b *StagedBlob) UnmarshalJSON(data []byte) error {
	type plain StagedBlob
	var v struct {
		plain
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	sum, err := hex.DecodeString(v.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return fmt.Errorf("staged blob %s: sha256 %q is not 64 hex digits", v.Name, v.SHA256)
	}
	*b = StagedBlob(v.plain)
	copy(b.SHA256[:], sum)
	return nil
}
