package rql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Time placeholders (Ditto's TimePlaceholder), allowed as literal values:
//
//	time:now                 the current instant as an ISO-8601 string (UTC)
//	time:now_epoch_millis    the current instant in milliseconds since the epoch
//
// either followed by an offset [+-]<n><unit> and/or a truncation [<unit>],
// unit one of ms s m h d w mo y (an offset without unit is in seconds), e.g.
// time:now-1h, time:now[d], time:now_epoch_millis+30m[m]. As in Ditto, a month
// is 1/12 of a year of 365.2425 days; w, mo and y truncate to Monday, the
// first of the month and January 1st (in UTC).

const (
	timePrefix     = "time:"
	nowName        = "now"
	nowEpochMillis = "now_epoch_millis"
	// maxTimeOffset bounds offsets (in seconds, about 10,000 years) so that
	// the result stays a valid instant.
	maxTimeOffset = 10000 * 366 * 86400
)

type timeUnit struct {
	suffix  string
	seconds int64 // length in seconds; 0 for milliseconds
}

// Longest suffixes first, so that "ms" and "mo" are not read as "m".
var timeUnits = []timeUnit{
	{"ms", 0}, {"mo", 2629746}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}, {"y", 31556952},
}

// timeSpec is a parsed time placeholder.
type timeSpec struct {
	millis   bool  // now_epoch_millis: the result is an int64
	offsetMs int64 // signed offset in milliseconds
	truncate string
}

func parseTime(name string) (timeSpec, error) {
	var ts timeSpec
	rest, ok := strings.CutPrefix(name, timePrefix)
	if !ok {
		return ts, fmt.Errorf("unknown placeholder <%s>", name)
	}
	switch {
	case strings.HasPrefix(rest, nowEpochMillis):
		ts.millis = true
		rest = rest[len(nowEpochMillis):]
	case strings.HasPrefix(rest, nowName):
		rest = rest[len(nowName):]
	default:
		return ts, fmt.Errorf("unknown time placeholder <%s>: use time:now or time:now_epoch_millis", name)
	}
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		sign := int64(1)
		if rest[0] == '-' {
			sign = -1
		}
		rest = rest[1:]
		rest = strings.TrimPrefix(rest, "+")
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 {
			return ts, fmt.Errorf("time placeholder <%s>: the offset needs an amount", name)
		}
		amount, err := strconv.ParseInt(rest[:n], 10, 64)
		if err != nil {
			return ts, fmt.Errorf("time placeholder <%s>: offset too large", name)
		}
		rest = rest[n:]
		unit := timeUnit{"", 1} // no unit: seconds
		for _, u := range timeUnits {
			if strings.HasPrefix(rest, u.suffix) {
				unit = u
				rest = rest[len(u.suffix):]
				break
			}
		}
		var ms int64
		if unit.seconds == 0 {
			if amount > int64(maxTimeOffset)*1000 {
				return ts, fmt.Errorf("time placeholder <%s>: offset too large", name)
			}
			ms = amount
		} else {
			if amount > int64(maxTimeOffset)/unit.seconds {
				return ts, fmt.Errorf("time placeholder <%s>: offset too large", name)
			}
			ms = amount * unit.seconds * 1000
		}
		ts.offsetMs = sign * ms
	}
	if rest != "" && rest[0] == '[' {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return ts, fmt.Errorf("time placeholder <%s>: missing ']'", name)
		}
		unit := rest[1:end]
		known := false
		for _, u := range timeUnits {
			known = known || u.suffix == unit
		}
		if !known {
			return ts, fmt.Errorf("time placeholder <%s>: unknown truncation unit %q", name, unit)
		}
		ts.truncate = unit
		rest = rest[end+1:]
	}
	if rest != "" {
		return ts, fmt.Errorf("unknown time placeholder <%s>", name)
	}
	return ts, nil
}

// ResolveTime resolves the time placeholder name (e.g. "time:now-1h") at
// now: time:now… yields the ISO-8601 string (UTC, as Java's
// Instant.toString, to the microsecond), time:now_epoch_millis… an int64.
func ResolveTime(name string, now time.Time) (any, error) {
	ts, err := parseTime(name)
	if err != nil {
		return nil, err
	}
	return ts.resolve(now), nil
}

func (ts timeSpec) resolve(now time.Time) any {
	t := ts.instantAt(now)
	if ts.millis {
		return t.UnixMilli()
	}
	return protocol.FormatInstant(t)
}

// instantAt applies the offset and the truncation to now; the result is
// truncated to the microsecond, as protocol.FormatInstant writes it.
func (ts timeSpec) instantAt(now time.Time) time.Time {
	t := time.Unix(now.Unix()+ts.offsetMs/1000, int64(now.Nanosecond())).UTC().
		Add(time.Duration(ts.offsetMs%1000) * time.Millisecond)
	switch ts.truncate {
	case "":
	case "ms":
		t = t.Truncate(time.Millisecond)
	case "s":
		t = t.Truncate(time.Second)
	case "m":
		t = t.Truncate(time.Minute)
	case "h":
		t = t.Truncate(time.Hour)
	case "d":
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case "w":
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		t = time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, time.UTC)
	case "mo":
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "y":
		t = time.Date(t.Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Microsecond)
}

// ParseInstant reads an RFC 3339 instant (an ISO-8601 date and time with
// its zone, as Ditto writes _created and _modified). A string literal that
// reads as one compares with _created and _modified as an instant.
func ParseInstant(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
