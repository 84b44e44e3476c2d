package plan

import (
	"reflect"
	"testing"
)

func TestWindows(t *testing.T) {
	tests := []struct {
		numFrames int
		want      []Window
	}{
		{0, nil},
		{3, nil},
		{4, []Window{{0, 3}}},
		{256, []Window{{0, 255}}},
		{257, []Window{{0, 256}}},
		{383, []Window{{0, 382}}},
		{384, []Window{{0, 255}, {256, 383}}},
		{512, []Window{{0, 255}, {256, 511}}},
		{700, []Window{{0, 255}, {256, 511}, {512, 699}}},
		{639, []Window{{0, 255}, {256, 638}}},
	}
	for _, tc := range tests {
		got := Windows(tc.numFrames)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Windows(%d) = %v, want %v", tc.numFrames, got, tc.want)
		}
		total := 0
		for _, w := range got {
			total += w.NumFrames()
		}
		if len(got) > 0 && total != tc.numFrames {
			t.Errorf("Windows(%d) cover %d frames", tc.numFrames, total)
		}
	}
}
