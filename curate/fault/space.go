package fault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MinFreeDefault asks for the default free-space limit: 1 GiB, or 5% of the
// database's filesystem where that is less.
const MinFreeDefault int64 = -1

// CheckRoom is the free-space guard run before work that writes to the
// database's filesystem (a clip's transcode, a blob's adoption, a commit):
// with less than limit free (MinFreeDefault: the default; 0: never) it
// fails with an error wrapping ErrDiskFull, which stops a run cleanly before
// Badger or a blob write meets ENOSPC. free and total are the filesystem's
// bytes; where names it in the message.
func CheckRoom(free, total uint64, where string, limit int64) error {
	if limit == 0 {
		return nil
	}
	if limit < 0 {
		limit = min(1<<30, int64(total/20))
	}
	if int64(free) < limit {
		return fmt.Errorf("%w: %s free on the database's filesystem (%s), below --min-free %s",
			ErrDiskFull, FormatSize(int64(free)), where, FormatSize(limit))
	}
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

// ParseSize reads a size such as "1GiB", "500MB", "64M" or "0" (bytes
// without a unit).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, errors.New("not a size (e.g. 1GiB, 500MB, 0)")
	}
	return int64(v * float64(mult)), nil
}

// FormatSize writes n bytes in binary units ("1.5 GiB").
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
