package clipwriter

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/clipfs/clipfs/index"
	"github.com/google/uuid"
)

// The parsers below read the JSON files of docs/formats.md §3 back into records:
// each is the exact inverse of its renderer in render.go, so that a tree
// exported by clipfs imports into records that render to the same bytes.
// A key the format does not have is an error: it would be lost.

// ParseVideo reads processed_videos/<rel>.json. Rel, Fingerprint and
// the times are the caller's.
func ParseVideo(b []byte) (index.VideoRecord, error) {
	v, err := DecodeJSON(b)
	if err != nil {
		return index.VideoRecord{}, err
	}
	f, err := objectFields(v, "processed_videos file")
	if err != nil {
		return index.VideoRecord{}, err
	}
	r := index.VideoRecord{
		Source: f.str("video"), Height: f.int("height"), Width: f.int("width"),
		FrameRate: f.float("framerate"), NumFrames: f.int("num_frames"), Duration: f.float("duration"),
		VideoCodec: f.str("video_codec"), PixelFormat: f.str("pixel_format"),
	}
	if a := f.value("audio_format"); a != nil {
		r.AudioCodec, err = asString(a)
		f.fail("audio_format", err)
	}
	r.NumTotalClips, r.NumClipChunks = f.int("num_total_clips"), f.int("num_clip_chunks")
	if e, ok := f.lookup("errors", false); ok {
		ef, err := objectFields(e, `"errors"`)
		if err == nil {
			r.Failure = ef.str(FailedStep)
			err = ef.err
		}
		f.fail("errors", err)
	}
	if err := f.done(); err != nil {
		return r, err
	}
	if r.Source == "" {
		return r, errors.New(`"video" is empty`)
	}
	if r.NumClipChunks < 0 || r.NumTotalClips < 0 {
		return r, errors.New("negative clip or chunk count")
	}
	return r, nil
}

// ParseChunk reads processed_clip_chunks/<rel>_<i>.json. ID is the
// caller's (ChunkUUID of the video and index). all_windows and
// all_windows_enhanced_caption are rendered from the clips' windows, so
// only their shape is checked.
func ParseChunk(b []byte) (index.ChunkRecord, error) {
	v, err := DecodeJSON(b)
	if err != nil {
		return index.ChunkRecord{}, err
	}
	f, err := objectFields(v, "processed_clip_chunks file")
	if err != nil {
		return index.ChunkRecord{}, err
	}
	r := index.ChunkRecord{Source: f.str("video"), Index: f.int("clip_chunk_index")}
	r.Stats = index.ChunkStats{
		FilteredByMotion: f.int("num_clips_filtered_by_motion"), FilteredByAesthetic: f.int("num_clips_filtered_by_aesthetic"),
		Passed: f.int("num_clips_passed"), Transcoded: f.int("num_clips_transcoded"),
		WithEmbeddings: f.int("num_clips_with_embeddings"), WithCaption: f.int("num_clips_with_caption"),
		WithWebp: f.int("num_clips_with_webp"), TotalClipDuration: f.float("total_clip_duration"),
		MaxClipDuration: f.float("max_clip_duration"),
	}
	seen := map[uuid.UUID]bool{}
	r.Clips = uuidList(f, "clips", seen)
	r.Filtered = uuidList(f, "filtered_clips", seen)
	for _, key := range []string{"all_windows", "all_windows_enhanced_caption"} {
		f.fail(key, checkWindowsMap(f.value(key)))
	}
	if err := f.done(); err != nil {
		return r, err
	}
	if r.Source == "" {
		return r, errors.New(`"video" is empty`)
	}
	if r.Index < 0 {
		return r, fmt.Errorf(`"clip_chunk_index" %d is negative`, r.Index)
	}
	return r, nil
}

func uuidList(f *fields, key string, seen map[uuid.UUID]bool) []uuid.UUID {
	list, err := asList(f.value(key))
	if err != nil {
		f.fail(key, err)
		return nil
	}
	ids := []uuid.UUID{}
	for _, item := range list {
		s, err := asString(item)
		var id uuid.UUID
		if err == nil {
			id, err = ParseUUID(s)
		}
		if err == nil && seen[id] {
			err = fmt.Errorf("clip %s is listed twice", id)
		}
		if err != nil {
			f.fail(key, err)
			return nil
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}

// checkWindowsMap checks {uuid: {"<s>_<e>": caption}}.
func checkWindowsMap(v any) error {
	outer, ok := v.(jsonObject)
	if !ok {
		return fmt.Errorf("want an object, got %s", describe(v))
	}
	for _, clip := range outer {
		inner, ok := clip.value.(jsonObject)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", clip.key, describe(clip.value))
		}
		for _, w := range inner {
			if _, err := asString(w.value); err != nil {
				return fmt.Errorf("%s: %s: %w", clip.key, w.key, err)
			}
		}
	}
	return nil
}

// mediaKeys are the metas keys present exactly when the clip has bytes.
var mediaKeys = []string{"width", "height", "framerate", "num_frames", "video_codec", "num_bytes"}

// ParseClip reads metas/v0/<id>.json. It also reports whether
// clip_location names filtered_clips/. StartFrame and EndFrame (not in the
// file) are int(span * framerate_source), as docs/formats.md §2 names clips.
func ParseClip(b []byte, id uuid.UUID) (index.ClipRecord, bool, error) {
	v, err := DecodeJSON(b)
	if err != nil {
		return index.ClipRecord{}, false, err
	}
	f, err := objectFields(v, "metas file")
	if err != nil {
		return index.ClipRecord{}, false, err
	}
	c := index.ClipRecord{ID: id, Windows: []index.Window{}}
	if s := f.str("span_uuid"); f.err == nil && s != id.String() {
		return c, false, fmt.Errorf("span_uuid %q differs from the file name", s)
	}
	c.Source = f.str("source_video")
	c.Span = spanOf(f)
	c.WidthSource, c.HeightSource = f.int("width_source"), f.int("height_source")
	if fps := f.value("framerate_source"); fps != nil {
		c.FrameRateSource, err = asFloat(fps)
		f.fail("framerate_source", err)
	}
	filtered, err := locationFiltered(f.str("clip_location"), id)
	f.fail("clip_location", err)
	c.Media = mediaOf(f)
	c.Motion = motionOf(f)
	if a, ok := f.lookup("aesthetic_score", false); ok {
		score, err := asFloat(a)
		f.fail("aesthetic_score", err)
		c.Aesthetic = &score
	}
	if e, ok := f.lookup("errors", false); ok {
		c.Errors = stringList(f, "errors", e)
	}
	c.Windows = windowsOf(f)
	valid, err := asBool(f.value("valid"))
	f.fail("valid", err)
	if err := f.done(); err != nil {
		return c, false, err
	}
	if c.Source == "" {
		return c, false, errors.New(`"source_video" is empty`)
	}
	if want := c.Transcoded() && len(c.Windows) > 0; valid != want {
		return c, false, fmt.Errorf(`"valid" is %t, but the clip has media fields: %t, windows: %d`, valid, c.Transcoded(), len(c.Windows))
	}
	// int(seconds * fps), truncated as Python does (docs/formats.md §2).
	c.StartFrame, c.EndFrame = int(c.Span[0]*c.FrameRateSource), int(c.Span[1]*c.FrameRateSource)
	return c, filtered, nil
}

func spanOf(f *fields) [2]float64 {
	var span [2]float64
	list, err := asList(f.value("duration_span"))
	if err == nil && len(list) != 2 {
		err = fmt.Errorf("want [start, end], got %d values", len(list))
	}
	for i := 0; err == nil && i < 2; i++ {
		span[i], err = asFloat(list[i])
	}
	f.fail("duration_span", err)
	return span
}

// locationFiltered checks that clip_location ends in clips/<id>.mp4 or
// filtered_clips/<id>.mp4 (under whatever output root) and says which.
func locationFiltered(loc string, id uuid.UUID) (bool, error) {
	dir, name := path.Split(loc)
	folder := path.Base(strings.TrimSuffix(dir, "/"))
	if name != id.String()+".mp4" || (folder != index.DirClips && folder != index.DirFilteredClips) {
		return false, fmt.Errorf("%q is not <out>/clips/%s.mp4 or <out>/filtered_clips/%[2]s.mp4", loc, id)
	}
	return folder == index.DirFilteredClips, nil
}

func mediaOf(f *fields) *index.ClipMedia {
	var present []string
	for _, k := range mediaKeys {
		if f.has(k) {
			present = append(present, k)
		}
	}
	if len(present) == 0 {
		return nil
	}
	if len(present) != len(mediaKeys) {
		f.fail(present[0], fmt.Errorf("media fields come together (%s); only %s present",
			strings.Join(mediaKeys, ", "), strings.Join(present, ", ")))
		return nil
	}
	m := &index.ClipMedia{Width: f.int("width"), Height: f.int("height"), FrameRate: f.float("framerate"),
		NumFrames: f.int("num_frames"), VideoCodec: f.str("video_codec"), NumBytes: int64(f.int("num_bytes"))}
	if m.NumBytes < 0 {
		f.fail("num_bytes", errors.New("negative"))
	}
	return m
}

func motionOf(f *fields) *index.MotionScore {
	v, ok := f.lookup("motion_score", false)
	if !ok {
		return nil
	}
	mf, err := objectFields(v, "motion_score")
	if err != nil {
		f.fail("motion_score", err)
		return nil
	}
	m := &index.MotionScore{GlobalMean: mf.float("global_mean"), PerPatchMin256: mf.float("per_patch_min_256")}
	f.fail("motion_score", mf.done())
	return m
}

func stringList(f *fields, key string, v any) []string {
	list, err := asList(v)
	out := []string{}
	for i := 0; err == nil && i < len(list); i++ {
		var s string
		s, err = asString(list[i])
		out = append(out, s)
	}
	f.fail(key, err)
	return out
}

// windowsOf reads the windows: start_frame, end_frame, then <m>_caption and
// <m>_enhanced_caption keys, each list in key order.
func windowsOf(f *fields) []index.Window {
	list, err := asList(f.value("windows"))
	if err != nil {
		f.fail("windows", err)
		return []index.Window{}
	}
	out := make([]index.Window, 0, len(list))
	for i, item := range list {
		w, err := windowOf(item)
		if err != nil {
			f.fail("windows", fmt.Errorf("window %d: %w", i, err))
			return out
		}
		out = append(out, w)
	}
	return out
}

func windowOf(v any) (index.Window, error) {
	wf, err := objectFields(v, "window")
	if err != nil {
		return index.Window{}, err
	}
	w := index.Window{Start: wf.int("start_frame"), End: wf.int("end_frame")}
	for _, fl := range wf.obj {
		if fl.key == "start_frame" || fl.key == "end_frame" {
			continue
		}
		wf.used[fl.key] = true
		text, err := asString(fl.value)
		if err != nil {
			wf.fail(fl.key, err)
			continue
		}
		if m, ok := strings.CutSuffix(fl.key, "_enhanced_caption"); ok && m != "" {
			w.Enhanced = append(w.Enhanced, index.Caption{Model: m, Text: text})
		} else if m, ok := strings.CutSuffix(fl.key, "_caption"); ok && m != "" {
			w.Captions = append(w.Captions, index.Caption{Model: m, Text: text})
		} else {
			wf.fail(fl.key, errors.New("not start_frame, end_frame, <model>_caption or <model>_enhanced_caption"))
		}
	}
	return w, wf.done()
}
