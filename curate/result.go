package curate

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

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
	Path   string   `json:"path,omitempty"` // where the file is, on the machine that curated it ("" once in the store)
	Size   int64    `json:"size"`
	SHA256 [32]byte `json:"sha256"`
	XXH3   [16]byte `json:"xxh3"` // XXH3-128, big-endian
	// Stored says the file is already in the database's blob store under
	// Name (a worker put it there): committing only checks and adopts it.
	Stored bool `json:"stored,omitempty"`
}

// stage describes the finished file at path as a StagedBlob named after
// it, taking its size and digests.
func stage(path string) (StagedBlob, error) {
	b, err := index.HashBlobFile(path)
	if err != nil {
		return StagedBlob{}, err
	}
	return StagedBlob{Name: b.Name, Path: path, Size: b.Size, SHA256: b.SHA256, XXH3: b.XXH3}, nil
}

// Blob is the index's description of the staged file.
func (b StagedBlob) Blob() index.Blob {
	return index.Blob{Name: b.Name, Size: b.Size, SHA256: b.SHA256, XXH3: b.XXH3}
}

// Discard removes the staged files of a result that will not be committed.
func (res *ChunkResult) Discard() {
	for _, b := range res.Blobs {
		os.Remove(b.Path)
	}
}

// MarshalJSON and UnmarshalJSON write the digests in hex, as sha256sum
// and xxh128sum do.
func (b StagedBlob) MarshalJSON() ([]byte, error) {
	type plain StagedBlob
	return json.Marshal(struct {
		plain
		SHA256 string `json:"sha256"`
		XXH3   string `json:"xxh3"`
	}{plain(b), hex.EncodeToString(b.SHA256[:]), hex.EncodeToString(b.XXH3[:])})
}

func (b *StagedBlob) UnmarshalJSON(data []byte) error {
	type plain StagedBlob
	var v struct {
		plain
		SHA256 string `json:"sha256"`
		XXH3   string `json:"xxh3"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	sum, err := hex.DecodeString(v.SHA256)
	if err != nil || len(sum) != len(b.SHA256) {
		return fmt.Errorf("staged blob %s: sha256 %q is not 64 hex digits", v.Name, v.SHA256)
	}
	fast, err := hex.DecodeString(v.XXH3)
	if err != nil || len(fast) != len(b.XXH3) {
		return fmt.Errorf("staged blob %s: xxh3 %q is not 32 hex digits", v.Name, v.XXH3)
	}
	*b = StagedBlob(v.plain)
	copy(b.SHA256[:], sum)
	copy(b.XXH3[:], fast)
	return nil
}
