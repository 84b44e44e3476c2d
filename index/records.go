package index

import "github.com/google/uuid"

// VideoRecord is one source video: what ffprobe said of it and how it was split.
type VideoRecord struct {
	Source      string  `json:"source"` // absolute path as given
	Rel         string  `json:"rel"`    // path below the --input root
	Fingerprint string  `json:"fingerprint"`
	SourceMTime int64   `json:"source_mtime"` // unix seconds; shard members carry it
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	FrameRate   float64 `json:"framerate"`
	NumFrames   int     `json:"num_frames"`
	Duration    float64 `json:"duration"`
	VideoCodec  string  `json:"video_codec"`
	PixelFormat string  `json:"pixel_format"`
	AudioCodec  string  `json:"audio_codec,omitempty"`
	// NumTotalClips counts clips before filtering; NumClipChunks the chunks planned.
	NumTotalClips int `json:"num_total_clips"`
	NumClipChunks int `json:"num_clip_chunks"`
	// ChunksDone lists the chunks committed so far.
	ChunksDone []ChunkRef `json:"chunks_done"`
	CuratedAt  int64      `json:"curated_at"` // unix seconds
	// Failure, if set, is why the video could not be curated: a job that
	// failed on every delivery to the workers (curate/dispatch). Its
	// processed_videos entry carries it under "errors".
	Failure string `json:"failure,omitempty"`
}

// Complete reports whether every planned chunk of the video is committed.
func (v VideoRecord) Complete() bool { return len(v.ChunksDone) >= v.NumClipChunks }

// HasChunk reports whether chunk i is committed.
func (v VideoRecord) HasChunk(i int) bool {
	for _, c := range v.ChunksDone {
		if c.Index == i {
			return true
		}
	}
	return false
}

// ChunkRef names a committed chunk of a video.
type ChunkRef struct {
	Index int       `json:"index"`
	ID    uuid.UUID `json:"id"`
}

// ChunkStats are the per-chunk counters of processed_clip_chunks (docs/formats.md §3).
type ChunkStats struct {
	FilteredByMotion    int     `json:"num_clips_filtered_by_motion"`
	FilteredByAesthetic int     `json:"num_clips_filtered_by_aesthetic"`
	Passed              int     `json:"num_clips_passed"`
	Transcoded          int     `json:"num_clips_transcoded"`
	WithEmbeddings      int     `json:"num_clips_with_embeddings"`
	WithCaption         int     `json:"num_clips_with_caption"`
	WithWebp            int     `json:"num_clips_with_webp"`
	TotalClipDuration   float64 `json:"total_clip_duration"`
	MaxClipDuration     float64 `json:"max_clip_duration"`
}

// ChunkRecord is one clip chunk of a video.
type ChunkRecord struct {
	ID       uuid.UUID   `json:"id"`
	Source   string      `json:"source"`
	Index    int         `json:"index"`
	Clips    []uuid.UUID `json:"clips"`    // passed, in clip order
	Filtered []uuid.UUID `json:"filtered"` // removed by a filter, in clip order
	Stats    ChunkStats  `json:"stats"`
	// Embedded lists the embedding prefixes with at least one passed clip embedded.
	Embedded  []string `json:"embedded,omitempty"`
	CuratedAt int64    `json:"curated_at"`
}

// ClipMedia is what ffprobe says of a transcoded clip.
type ClipMedia struct {
	Blob       string  `json:"blob"` // blob name, "" when the bytes were not kept
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FrameRate  float64 `json:"framerate"`
	NumFrames  int     `json:"num_frames"`
	VideoCodec string  `json:"video_codec"`
	NumBytes   int64   `json:"num_bytes"`
}

// MotionScore is NeMo's motion score of a clip.
type MotionScore struct {
	GlobalMean     float64 `json:"global_mean"`
	PerPatchMin256 float64 `json:"per_patch_min_256"`
}

// Caption is one model's text for a window.
type Caption struct {
	Model string `json:"model"`
	Text  string `json:"text"`
}

// Window is a frame range inside a clip (end inclusive) with its captions.
type Window struct {
	Start    int       `json:"start"`
	End      int       `json:"end"`
	Captions []Caption `json:"captions,omitempty"`
	Enhanced []Caption `json:"enhanced,omitempty"`
}

// Preview is the WebP blob of one window.
type Preview struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Blob  string `json:"blob"`
	Size  int64  `json:"size"`
}

// ClipRecord is everything known of one clip (a span of a source video).
type ClipRecord struct {
	ID              uuid.UUID    `json:"id"`
	Chunk           uuid.UUID    `json:"chunk"`
	Source          string       `json:"source"`
	Span            [2]float64   `json:"span"` // seconds
	StartFrame      int          `json:"start_frame"`
	EndFrame        int          `json:"end_frame"`
	WidthSource     int          `json:"width_source"`
	HeightSource    int          `json:"height_source"`
	FrameRateSource float64      `json:"framerate_source"` // 0 = unknown
	Filtered        bool         `json:"filtered"`
	Media           *ClipMedia   `json:"media,omitempty"` // nil: no bytes (dry run, failed transcode)
	Motion          *MotionScore `json:"motion,omitempty"`
	Aesthetic       *float64     `json:"aesthetic,omitempty"`
	Errors          []string     `json:"errors,omitempty"`
	Windows         []Window     `json:"windows"`
	Previews        []Preview    `json:"previews,omitempty"`
	CuratedAt       int64        `json:"curated_at"`
}

// Transcoded reports whether the clip has bytes (its metas carry the
// probed media fields), whether or not they were kept.
func (c ClipRecord) Transcoded() bool { return c.Media != nil }

// Stored reports whether the clip's media is kept as a blob (served under
// clips/ or filtered_clips/).
func (c ClipRecord) Stored() bool { return c.Media != nil && c.Media.Blob != "" }

// Embedding is one clip's vector for one algorithm: raw little-endian,
// C-order bytes of DType ("<f4" or "<f2") with the given shape.
type Embedding struct {
	DType string
	Shape []int
	Data  []byte
}

// EmbeddingRecord places an embedding of algorithm Prefix (iv2, ce1, clip, ...) on a clip.
type EmbeddingRecord struct {
	Prefix string
	Clip   uuid.UUID
	Embedding
}

// ChunkCommit is everything one chunk adds, made visible at once.
type ChunkCommit struct {
	Video      VideoRecord
	Chunk      ChunkRecord
	Clips      []ClipRecord
	Embeddings []EmbeddingRecord
	// Samples go to the open shard, in order; Limits say when it seals.
	Samples []ShardSample
	Limits  ShardLimits
}
