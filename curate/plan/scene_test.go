package plan

import (
	"reflect"
	"strings"
	"testing"
)

func TestSceneParamsValidate(t *testing.T) {
	tests := []struct {
		params SceneParams
		ok     bool
	}{
		{DefaultSceneParams(), true},
		{SceneParams{Threshold: 27, MinSceneLen: 1}, true},
		{SceneParams{Threshold: 27, MinSceneLen: 15, MinLength: 5}, true},
		{SceneParams{Threshold: 27, MinSceneLen: 15, MaxLength: 2, MinLength: 2}, true},
		{SceneParams{Threshold: 0, MinSceneLen: 15}, false},
		{SceneParams{Threshold: nan(), MinSceneLen: 15}, false},
		{SceneParams{Threshold: inf(), MinSceneLen: 15}, false},
		{SceneParams{Threshold: 27, MinSceneLen: 0}, false},
		{SceneParams{Threshold: 27, MinSceneLen: 15, MaxLength: -1}, false},
		{SceneParams{Threshold: 27, MinSceneLen: 15, MinLength: nan()}, false},
		{SceneParams{Threshold: 27, MinSceneLen: 15, Crop: inf()}, false},
		{SceneParams{Threshold: 27, MinSceneLen: 15, MaxLength: 2, MinLength: 3}, false},
	}
	for _, tc := range tests {
		err := tc.params.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.params, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "scene splitting: ") {
			t.Errorf("error %q lacks the scene splitting prefix", err)
		}
	}
}

func TestScenesFromCuts(t *testing.T) {
	tests := []struct {
		cuts      []int
		numFrames int
		want      [][2]int
	}{
		{[]int{40, 85}, 100, [][2]int{{0, 40}, {40, 85}, {85, 100}}},
		{nil, 100, [][2]int{{0, 100}}},
		{[]int{0, 50, 50, 30, 100, 120}, 100, [][2]int{{0, 50}, {50, 100}}},
		{[]int{5}, 0, nil},
	}
	for _, tc := range tests {
		if got := ScenesFromCuts(tc.cuts, tc.numFrames); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ScenesFromCuts(%v, %d) = %v, want %v", tc.cuts, tc.numFrames, got, tc.want)
		}
	}
}

func TestFilterScenes(t *testing.T) {
	ntsc := 30000.0 / 1001
	def := DefaultSceneParams()
	only := func(maxLen, minLen, crop float64) SceneParams {
		return SceneParams{Threshold: 27, MinSceneLen: 15, MaxLength: maxLen, MinLength: minLen, Crop: crop}
	}
	tests := []struct {
		name   string
		scenes [][2]int
		fps    float64
		params SceneParams
		want   [][2]int
	}{
		// 25 fps defaults: max 250, min 50, crop 12 frames.
		{"whole video, no cut", [][2]int{{0, 100}}, 25, def, [][2]int{{12, 88}}},
		{"10 s pieces, 40-frame last piece dropped", [][2]int{{0, 540}}, 25, def,
			[][2]int{{12, 238}, {262, 488}}},
		{"50-frame last piece kept by stride, too short once cropped", [][2]int{{0, 550}}, 25, def,
			[][2]int{{12, 238}, {262, 488}}},
		{"100-frame last piece kept", [][2]int{{0, 600}}, 25, def,
			[][2]int{{12, 238}, {262, 488}, {512, 588}}},
		{"stride alone", [][2]int{{0, 30}, {30, 95}}, 25, only(1, 0, 0),
			[][2]int{{0, 25}, {25, 30}, {30, 55}, {55, 80}, {80, 95}}},
		{"stride alone, short last piece dropped", [][2]int{{30, 95}}, 25, only(1, 0.8, 0),
			[][2]int{{30, 55}, {55, 80}}},
		{"crop removes empty scenes", [][2]int{{0, 24}, {24, 30}, {30, 100}}, 25, only(0, 0, 0.5),
			[][2]int{{42, 88}}},
		{"minimum length", [][2]int{{0, 49}, {49, 99}, {99, 150}}, 25, only(0, 2, 0),
			[][2]int{{49, 99}, {99, 150}}},
		// 29.97 fps: max int(299.7) = 299, min int(59.94) = 59, crop int(14.985) = 14.
		{"29.97 fps truncation", [][2]int{{0, 700}}, ntsc, def,
			[][2]int{{14, 285}, {313, 584}, {612, 686}}},
		{"29.97 fps, 58-frame last piece dropped", [][2]int{{0, 656}}, ntsc, def,
			[][2]int{{14, 285}, {313, 584}}},
		{"max length under a frame is one frame", [][2]int{{0, 3}}, 25, only(0.01, 0, 0),
			[][2]int{{0, 1}, {1, 2}, {2, 3}}},
		{"nothing left", [][2]int{{0, 30}}, 25, def, nil},
		{"unknown fps", [][2]int{{0, 300}}, 0, def, nil},
		{"invalid params", [][2]int{{0, 300}}, 25, SceneParams{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FilterScenes(tc.scenes, tc.fps, tc.params); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FilterScenes(%v, %v) = %v, want %v", tc.scenes, tc.fps, got, tc.want)
			}
		})
	}
}

func TestSceneSpans(t *testing.T) {
	p := SceneParams{Threshold: 27, MinSceneLen: 15, MinLength: 1, Crop: 0.2}
	got := SceneSpans([]int{50, 70}, 125, 25, p)
	want := []Span{{0.2, 1.8, 5, 45}, {3, 4.8, 75, 120}} // [50, 70) is 10 frames once cropped
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SceneSpans = %v, want %v", got, want)
	}
	if got := SceneSpans(nil, 30, 25, DefaultSceneParams()); got != nil {
		t.Errorf("SceneSpans of a 1.2 s video = %v, want none", got)
	}
}
