package watch

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawEvent encodes an inotify record as read(2) returns it, the name padded
// with NULs to pad bytes.
func rawEvent(wd int32, mask uint32, name string, pad int) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(wd))
	b = binary.NativeEndian.AppendUint32(b, mask)
	b = binary.NativeEndian.AppendUint32(b, 0) // cookie
	b = binary.NativeEndian.AppendUint32(b, uint32(pad))
	name += string(make([]byte, pad-len(name)))
	return append(b, name...)
}

func TestEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  []byte
		want []event
	}{
		{"empty", nil, nil},
		{"overflow", rawEvent(-1, unix.IN_Q_OVERFLOW, "", 0),
			[]event{{wd: -1, mask: unix.IN_Q_OVERFLOW}}},
		{"two", append(rawEvent(1, unix.IN_CREATE, "a.mp4", 16), rawEvent(2, unix.IN_DELETE_SELF, "", 0)...),
			[]event{{1, unix.IN_CREATE, "a.mp4"}, {2, unix.IN_DELETE_SELF, ""}}},
		{"truncated", append(rawEvent(1, unix.IN_MODIFY, "b", 4), rawEvent(1, unix.IN_MODIFY, "c", 16)[:20]...),
			[]event{{1, unix.IN_MODIFY, "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Collect(events(tc.buf))
			if !slices.Equal(got, tc.want) {
				t.Errorf("events = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOverflowRequestsRescan(t *testing.T) {
	w, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(w.fd)
	if err := w.handle(context.Background(), event{wd: -1, mask: unix.IN_Q_OVERFLOW}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !w.rescanNow {
		t.Error("IN_Q_OVERFLOW did not request a rescan")
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
		{"/a", "/a/b", false},
		{"/a", "/", true},
	} {
		if got := within(tc.path, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.path, tc.dir, got, tc.want)
		}
	}
}

func TestPollTimeout(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name      string
		deadlines []time.Time
		want      int
	}{
		{"none", []time.Time{{}, {}}, -1},
		{"earliest", []time.Time{now.Add(time.Second), {}, now.Add(300 * time.Millisecond)}, 300},
		{"rounded up", []time.Time{now.Add(1500 * time.Microsecond)}, 2},
		{"past", []time.Time{now.Add(-time.Second)}, 0},
	} {
		if got := pollTimeout(now, tc.deadlines...); got != tc.want {
			t.Errorf("%s: pollTimeout = %d, want %d", tc.name, got, tc.want)
		}
	}
}
