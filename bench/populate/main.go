package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clipfs/clipfs/curate/publish"
	"github.com/clipfs/clipfs/index"
	"github.com/clipfs/clipfs/index/s3store"
	"github.com/google/uuid"
)

const perChunk = 32 // clips per chunk, as curate commits them

type config struct {
	db       string
	n        int
	blobs    int
	size     int64
	perVideo int
	tree     string
	list     string
	shard    bool
	store    string
	first    int
	stamp    string
}

func main() {
	var c config
	flag.StringVar(&c.db, "db", "", "database folder to create (must not exist or be empty)")
	flag.IntVar(&c.n, "n", 100000, "number of clips")
	flag.IntVar(&c.blobs, "blobs", 4, "distinct blobs shared by all clips; 0: one blob per clip")
	flag.Int64Var(&c.size, "size", 1000, "blob size in bytes (shared blobs get size, size+1, ...)")
	flag.IntVar(&c.perVideo, "per-video", 256, "clips per source video")
	flag.StringVar(&c.tree, "tree", "", "also write clips/<uuid>.mp4 with the same bytes under this folder")
	flag.StringVar(&c.list, "list", "", "write the blob path of every clip, in clip-name order, to this file")
	flag.BoolVar(&c.shard, "shard", false, "add every clip to one WebDataset shard (mp4 + json members) and seal it; needs -blobs 0")
	flag.StringVar(&c.store, "store", "", "keep the blobs in s3://BUCKET/PREFIX (server and keys from AWS_*) and publish the index to PREFIX/index/ at the end")
	flag.IntVar(&c.first, "first-video", 0, "number of the first source video (another number adds clips to an existing database)")
	flag.StringVar(&c.stamp, "stamp", "", "write \"COMMIT PUBLISHED CLIP\" to this file: the Unix times (s) just before the last chunk commit and after the publish, and that chunk's last clip file")
	flag.Parse()
	if c.db == "" || c.n <= 0 || c.blobs < 0 || c.size <= 0 || c.perVideo <= 0 || c.first < 0 || (c.shard && c.blobs != 0) {
		fmt.Fprintln(os.Stderr, "usage: populate -db DIR [-n N] [-blobs K] [-size BYTES] [-per-video N] [-tree DIR] [-list FILE] [-shard (with -blobs 0)] [-store s3://BUCKET/PREFIX] [-first-video N] [-stamp FILE]")
		os.Exit(2)
	}
	start := time.Now()
	if err := populate(c); err != nil {
		fmt.Fprintln(os.Stderr, "populate:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "populate: %d clips in %s in %.1f s\n", c.n, c.db, time.Since(start).Seconds())
}

func populate(c config) error {
	ctx := context.Background()
	opts := index.Options{Create: true}
	var objects *s3store.Store
	if c.store != "" {
		st, err := s3store.Open(ctx, c.store, s3store.Options{})
		if err != nil {
			return err
		}
		if objects, err = st.Sub("index"); err != nil {
			return err
		}
		opts.Blobs, opts.BlobsURI = st, c.store
	}
	db, err := index.Open(c.db, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	var pub *index.Publisher // made before any commit, as index.Publisher needs
	if objects != nil {
		pub = db.NewPublisher(objects, index.PublishOptions{})
		defer pub.Close()
	}
	var committed float64
	var lastClip string
	rng := rand.NewChaCha8([32]byte{'c', 'l', 'i', 'p', 'f', 's'})
	var shared []index.Blob
	for i := range c.blobs {
		b, err := adopt(db, rng, c.size+int64(i))
		if err != nil {
			return err
		}
		shared = append(shared, b)
	}
	if c.tree != "" {
		if err := os.MkdirAll(filepath.Join(c.tree, index.DirClips), 0o755); err != nil {
			return err
		}
	}
	type named struct{ clip, blob string }
	var names []named
	now := index.Now()
	for v0 := 0; v0 < c.n; v0 += c.perVideo {
		nv := min(c.perVideo, c.n-v0)
		src := fmt.Sprintf("/videos/bench/video_%06d.mp4", c.first+v0/c.perVideo)
		v := index.VideoRecord{Source: src, Rel: strings.TrimPrefix(src, "/videos/"), Fingerprint: "bench",
			Width: 640, Height: 360, FrameRate: 25, NumFrames: 250 * nv, Duration: 10 * float64(nv),
			VideoCodec: "h264", PixelFormat: "yuv420p", NumTotalClips: nv,
			NumClipChunks: (nv + perChunk - 1) / perChunk, CuratedAt: now, SourceMTime: 1700000000}
		for i0 := 0; i0 < nv; i0 += perChunk {
			ci := i0 / perChunk
			ch := index.ChunkRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d", src, ci)), Source: src, Index: ci}
			cc := index.ChunkCommit{Video: v}
			if c.shard { // one shard for everything, sealed below
				cc.Limits = index.ShardLimits{TargetBytes: math.MaxInt64, MaxSamples: math.MaxInt}
			}
			for i := i0; i < min(nv, i0+perChunk); i++ {
				b := index.Blob{}
				if c.blobs > 0 {
					b = shared[(v0+i)%len(shared)]
				} else if b, err = adopt(db, rng, c.size); err != nil {
					return err
				}
				clip := index.ClipRecord{ID: uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s_%d_%d", src, 250*i, 250*i+250)),
					Source: src, Span: [2]float64{10 * float64(i), 10*float64(i) + 10}, StartFrame: 250 * i, EndFrame: 250*i + 250,
					WidthSource: 640, HeightSource: 360, FrameRateSource: 25, Windows: []index.Window{},
					Media: &index.ClipMedia{Blob: b.Name, Width: 640, Height: 360, FrameRate: 25, NumFrames: 250,
						VideoCodec: "h264", NumBytes: b.Size}}
				ch.Clips = append(ch.Clips, clip.ID)
				ch.Stats.Passed++
				ch.Stats.Transcoded++
				ch.Stats.TotalClipDuration += 10
				ch.Stats.MaxClipDuration = 10
				cc.Clips = append(cc.Clips, clip)
				if c.shard {
					cc.Samples = append(cc.Samples, publish.Sample(clip, v.SourceMTime, nil))
				}
				names = append(names, named{clip.ID.String() + ".mp4", b.Name})
			}
			cc.Chunk = ch
			committed, lastClip = unixNow(), names[len(names)-1].clip
			if err := db.CommitChunk(cc); err != nil {
				return err
			}
		}
	}
	if c.shard {
		if sealed, err := db.SealOpenShard(); err != nil {
			return err
		} else if !sealed {
			return fmt.Errorf("no shard sealed")
		}
	}
	if pub != nil {
		if _, err := pub.Publish(ctx); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	if c.stamp != "" {
		if err := os.WriteFile(c.stamp, fmt.Appendf(nil, "%.6f %.6f %s\n", committed, unixNow(), lastClip), 0o644); err != nil {
			return err
		}
	}
	slices.SortFunc(names, func(a, b named) int { return strings.Compare(a.clip, b.clip) })
	if c.tree != "" {
		data := map[string][]byte{} // blob bytes, read once each
		for _, n := range names {
			b, ok := data[n.blob]
			if !ok {
				if b, err = readBlob(db, n.blob); err != nil {
					return err
				}
				data[n.blob] = b
			}
			if err := os.WriteFile(filepath.Join(c.tree, index.DirClips, n.clip), b, 0o644); err != nil {
				return err
			}
		}
	}
	if c.list != "" {
		var sb strings.Builder
		for _, n := range names {
			if c.store != "" { // no local file: the blob's name in the store
				sb.WriteString(n.blob + "\n")
				continue
			}
			p, ok := db.BlobLocalPath(n.blob)
			if !ok {
				return fmt.Errorf("blob %s has no local file to list", n.blob)
			}
			sb.WriteString(p + "\n")
		}
		return os.WriteFile(c.list, []byte(sb.String()), 0o644)
	}
	return nil
}

// readBlob is blob name's bytes, read through the index's store.
func readBlob(db *index.DB, name string) ([]byte, error) {
	r, err := db.OpenBlob(context.Background(), name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
}

func unixNow() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// adopt writes size random bytes to a fresh temporary file and adopts it.
func adopt(db *index.DB, rng *rand.ChaCha8, size int64) (index.Blob, error) {
	p := db.TempPath(".mp4")
	data := make([]byte, size)
	rng.Read(data)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return index.Blob{}, err
	}
	return db.AdoptBlob(p)
}
