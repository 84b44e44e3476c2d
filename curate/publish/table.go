package publish

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/pack"
	"github.com/google/uuid"
)

// shardSpot is where a clip's mp4 data lies inside a sealed shard.
type shardSpot struct {
	shard        string
	offset, size int64
}

// WriteClipTable renders index.parquet (one row per clip, passed and
// filtered, with the shard and byte range of its mp4 data) into a new blob
// streamed row by row, and publishes it at the root of the tree.
func WriteClipTable(ctx context.Context, db *index.DB) error {
	spots, err := shardSpots(db)
	if err != nil {
		return err
	}
	tmp := db.TempPath(".parquet")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("index.parquet: %w", err)
	}
	defer os.Remove(tmp)
	buf := bufio.NewWriterSize(f, 1<<20)
	w := pack.NewClipTableWriter(buf)
	err = db.Clips(func(c index.ClipRecord) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return w.Write(clipRow(c, spots[c.ID]))
	})
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = buf.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("index.parquet: %w", err)
	}
	b, err := db.AdoptBlob(tmp)
	if err != nil {
		return err
	}
	return db.PublishFile(index.ClipTableName, b)
}

// shardSpots maps every clip in a sealed shard to its mp4 data's place.
func shardSpots(db *index.DB) (map[uuid.UUID]shardSpot, error) {
	spots := map[uuid.UUID]shardSpot{}
	err := db.SealedShards(func(h index.ShardHeader) error {
		src, err := db.OpenShardContent(h.Number)
		if err != nil {
			return err
		}
		defer src.Close()
		t, err := shardTar(src.Files)
		if err != nil {
			return fmt.Errorf("shard %d: %w", h.Number, err)
		}
		name := index.DirShards + "/" + index.ShardName(h.Number)
		for i, f := range src.Files {
			if f.Ext == "mp4" {
				spots[f.Clip] = shardSpot{shard: name, offset: t.DataOffset(i), size: f.Size}
			}
		}
		return nil
	})
	return spots, err
}

// shardTar is the tar layout of a shard's member files.
func shardTar(files []index.ShardFile) (*pack.Tar, error) {
	members := make([]pack.TarMember, len(files))
	for i, f := range files {
		members[i] = pack.TarMember{Name: f.Name, Size: f.Size, MTime: f.MTime}
	}
	return pack.NewTar(members)
}

func clipRow(c index.ClipRecord, spot shardSpot) pack.ClipRow {
	r := pack.ClipRow{ID: c.ID.String(), SourceVideo: c.Source, SpanStart: c.Span[0], SpanEnd: c.Span[1], Filtered: c.Filtered}
	if c.Stored() {
		dir := index.DirClips
		if c.Filtered {
			dir = index.DirFilteredClips
		}
		r.ClipPath = dir + "/" + c.ID.String() + ".mp4"
	}
	if m := c.Media; m != nil {
		r.Width, r.Height, r.FrameRate = int64(m.Width), int64(m.Height), m.FrameRate
		r.NumFrames, r.NumBytes = int64(m.NumFrames), m.NumBytes
	}
	if c.Motion != nil {
		r.MotionGlobalMean, r.MotionPerPatchMin256 = &c.Motion.GlobalMean, &c.Motion.PerPatchMin256
	}
	r.AestheticScore = c.Aesthetic
	if len(c.Windows) > 0 && len(c.Windows[0].Captions) > 0 {
		r.Caption = &c.Windows[0].Captions[0].Text
	}
	if spot.shard != "" {
		r.Shard, r.ShardOffset, r.ShardSize = &spot.shard, &spot.offset, &spot.size
	}
	return r
}

// FillShardMD5s hashes every sealed shard whose md5 is not known yet (those
// sealed in this run, or in a run killed before it hashed them) and records
// it for wds/shards.json. Each shard is read once, streamed.
func FillShardMD5s(ctx context.Context, db *index.DB) error {
	var todo []int
	err := db.SealedShards(func(h index.ShardHeader) error {
		if h.MD5 == "" {
			todo = append(todo, h.Number)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum, err := shardMD5(db, n)
		if err != nil {
			return fmt.Errorf("shard %s: md5: %w", index.ShardName(n), err)
		}
		if err := db.SetShardMD5(n, sum); err != nil {
			return err
		}
	}
	return nil
}

func shardMD5(db *index.DB, n int) (string, error) {
	src, err := db.OpenShardContent(n)
	if err != nil {
		return "", err
	}
	defer src.Close()
	t, err := shardTar(src.Files)
	if err != nil {
		return "", err
	}
	h := md5.New()
	if _, err := pack.WriteTar(h, t, src); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
