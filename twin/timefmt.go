package twin

import (
	"strconv"
	"time"
)

// formatInstant formats t as Java's Instant.toString does, which is what
// Ditto's clients see: UTC, and the fraction in groups of three digits
// (none, milliseconds or microseconds) as precision needs.
func formatInstant(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	base := t.Format("2006-01-02T15:04:05")
	us := t.Nanosecond() / 1000
	switch {
	case us == 0:
		return base + "Z"
	case us%1000 == 0:
		return base + "." + pad(us/1000, 3) + "Z"
	default:
		return base + "." + pad(us, 6) + "Z"
	}
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
