package clipwriter

import (
	"bytes"
	"reflect"
	"testing"

	cwt "github.com/clipfs/clipfs/clipwriter/clipwritertest"
	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// clipRecords are clips of the shapes the format distinguishes: passed with
// everything, filtered, not transcoded (no media keys), no source frame rate.
func clipRecords() []index.ClipRecord {
	full := metaRecord()
	filtered := metaRecord()
	filtered.ID, filtered.Filtered = uuid.New(), true
	filtered.Windows, filtered.Errors = []index.Window{}, nil
	bare := index.ClipRecord{ID: uuid.New(), Source: cwt.Source, Span: [2]float64{0, 1.5}, WidthSource: 64, HeightSource: 48,
		FrameRateSource: 25, StartFrame: 0, EndFrame: 37, Errors: []string{"transcode"}, Windows: []index.Window{}}
	noRate := bare
	noRate.ID, noRate.FrameRateSource, noRate.EndFrame = uuid.New(), 0, 0
	return []index.ClipRecord{full, filtered, bare, noRate}
}

// TestClipRoundTrip: a clip rendered and parsed back is the same record
// (but for what the file does not hold: blob names), and renders to the
// same bytes, under an output path and without one.
func TestClipRoundTrip(t *testing.T) {
	for _, c := range clipRecords() {
		for _, out := range []string{"", "/out"} {
			b := ClipJSON(c, out)
			got, filtered, err := ParseClip(b, c.ID)
			if err != nil {
				t.Fatalf("%s: parse what ClipJSON wrote: %v\n%s", c.ID, err, b)
			}
			if filtered != c.Filtered {
				t.Errorf("%s: filtered %t from clip_location, want %t", c.ID, filtered, c.Filtered)
			}
			got.Filtered = filtered
			if !reflect.DeepEqual(got, c) {
				t.Errorf("%s (out %q): round trip\n got %+v\nwant %+v", c.ID, out, got, c)
			}
			if again := ClipJSON(got, out); !bytes.Equal(again, b) {
				t.Errorf("%s: rendered again\n%s\nfirst\n%s", c.ID, again, b)
			}
		}
	}
	if b := ShardClipJSON(metaRecord()); !bytes.Equal(b, ClipJSON(metaRecord(), "")) {
		t.Errorf("ShardClipJSON is not the relative ClipJSON:\n%s", b)
	}
}

func TestVideoRoundTrip(t *testing.T) {
	for _, v := range []index.VideoRecord{
		{Source: cwt.Source, Width: 1280, Height: 720, FrameRate: 29.97002997002997, NumFrames: 900, Duration: 30.03,
			VideoCodec: "h264", PixelFormat: "yuv420p", AudioCodec: "aac", NumTotalClips: 3, NumClipChunks: 1},
		{Source: "/data/in/silent.mkv", Width: 64, Height: 48, FrameRate: 25, NumFrames: 10, Duration: 0.4,
			VideoCodec: "vp9", PixelFormat: "yuv420p"},
		{Source: "/data/in/broken.mp4", Failure: "/data/in/broken.mp4: no video stream (3 deliveries)"},
	} {
		b := VideoJSON(v)
		got, err := ParseVideo(b)
		if err != nil {
			t.Fatalf("%s: parse what VideoJSON wrote: %v\n%s", v.Source, err, b)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip\n got %+v\nwant %+v", got, v)
		}
		if again := VideoJSON(got); !bytes.Equal(again, b) {
			t.Errorf("rendered again\n%s\nfirst\n%s", again, b)
		}
	}
}

func TestChunkRoundTrip(t *testing.T) {
	clips := clipRecords()
	ch := index.ChunkRecord{ID: uuid.New(), Source: cwt.Source, Index: 2,
		Clips: []uuid.UUID{clips[0].ID, clips[2].ID, clips[3].ID}, Filtered: []uuid.UUID{clips[1].ID},
		Stats: index.ChunkStats{Passed: 3, FilteredByMotion: 1, Transcoded: 2, WithCaption: 1, WithWebp: 1,
			TotalClipDuration: 21.5, MaxClipDuration: 10}}
	b := ChunkJSON(ch, clips)
	got, err := ParseChunk(b)
	if err != nil {
		t.Fatalf("parse what ChunkJSON wrote: %v\n%s", err, b)
	}
	want := ch
	want.ID = uuid.Nil // the file names the video and index, not the chunk's uuid
	got.ID = uuid.Nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, want)
	}
	got.ID = ch.ID
	if again := ChunkJSON(got, clips); !bytes.Equal(again, b) {
		t.Errorf("rendered again\n%s\nfirst\n%s", again, b)
	}
}
