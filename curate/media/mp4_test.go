package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestProbeMP4MatchesFFprobe: on clips transcoded exactly as curation does,
// at the frame rates users have, the box reader reports what ffprobe does,
// to the last bit of the frame rate.
func TestProbeMP4MatchesFFprobe(t *testing.T) {
	tools := mediaTestTools(t)
	dir := t.TempDir()
	cases := []struct {
		name       string
		sample     mediaSample
		start, end float64
	}{
		{"25fps.mp4", mediaSample{rate: "25", seconds: "12", audio: "aac"}, 0, 10},
		{"2997fps.mp4", mediaSample{rate: "30000/1001", seconds: "13"}, 10, 12.9},
		{"24fps.mov", mediaSample{rate: "24", seconds: "6", audio: "pcm_s16le"}, 2, 6},
		{"30fps.webm", mediaSample{rate: "30", seconds: "4", audio: "libopus", video: []string{"-c:v", "libvpx"}}, 0, 3.5},
		{"5994fps.mkv", mediaSample{rate: "60000/1001", seconds: "3", audio: "flac"}, 0.5, 2.5},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, tc.name)
			tc.sample.write(t, tools, src)
			clip := filepath.Join(dir, tc.name+".clip.mp4")
			if err := tools.Transcode(ctx, src, tc.start, tc.end, clip); err != nil {
				t.Fatal(err)
			}
			want, err := tools.Probe(ctx, clip)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ProbeMP4(clip)
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != want.Width || got.Height != want.Height || got.FrameRate != want.FrameRate ||
				got.NumFrames != want.NumFrames || got.VideoCodec != want.VideoCodec || got.NumBytes != want.NumBytes {
				t.Errorf("box reader %+v\nffprobe    %+v", got, want)
			}
		})
	}
}

func TestProbeMP4RefusesOtherFiles(t *testing.T) {
	tools := mediaTestTools(t)
	dir := t.TempDir()
	webm := filepath.Join(dir, "v.webm")
	mediaSample{rate: "25", seconds: "1", video: []string{"-c:v", "libvpx"}}.write(t, tools, webm)
	text := filepath.Join(dir, "t.mp4")
	os.WriteFile(text, []byte("not a video at all, just text"), 0o644)
	for _, p := range []string{webm, text, filepath.Join(dir, "missing.mp4")} {
		if _, err := ProbeMP4(p); err == nil {
			t.Errorf("%s: no error", p)
		} else if p != filepath.Join(dir, "missing.mp4") && !errors.Is(err, errNotSimpleMP4) {
			t.Errorf("%s: %v, want errNotSimpleMP4", p, err)
		}
	}
}
