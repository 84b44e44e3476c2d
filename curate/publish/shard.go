package publish

import (
	"fmt"

	"github.com/clipfs/clipfs/clipwriter"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
)

// Sample is the WebDataset sample of a passed, stored clip (docs/formats.md
// §7): <uuid>.mp4 (the clip blob), <uuid>.json (its metas JSON, from
// renderMeta), <uuid>.txt (the first window's first caption, if any) and
// <uuid>.<p>.npy for each embedding. Everything but the media is copied
// into the sample, so a sealed shard never changes. mtime (the source
// video's) is every member's modification time: shard bytes do not depend
// on when curation ran.
func Sample(c index.ClipRecord, mtime int64, embeddings []index.EmbeddingRecord) index.ShardSample {
	s := index.ShardSample{
		Clip: c.ID, Key: c.ID.String(), MTime: mtime,
		Order:   fmt.Sprintf("%s\x00%012d", c.Source, c.StartFrame),
		Members: []index.ShardMember{{Ext: "mp4", Size: c.Media.NumBytes, Blob: c.Media.Blob}},
	}
	s.Members = append(s.Members, dataMember("json", clipwriter.ShardClipJSON(c)))
	if len(c.Windows) > 0 && len(c.Windows[0].Captions) > 0 {
		s.Members = append(s.Members, dataMember("txt", []byte(c.Windows[0].Captions[0].Text)))
	}
	for _, e := range embeddings {
		if e.Clip != c.ID {
			continue
		}
		a, err := pack.NewArray(e.DType, e.Shape, e.Data)
		if err != nil {
			continue // index rejects malformed vectors before they get here
		}
		s.Members = append(s.Members, dataMember(e.Prefix+".npy", pack.NPY(a)))
	}
	return s
}

func dataMember(ext string, b []byte) index.ShardMember {
	return index.ShardMember{Ext: ext, Size: int64(len(b)), Data: b}
}
