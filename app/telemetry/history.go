package telemetry

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrHistoryQuery marks a history query that cannot be answered as asked:
// an unknown metric or step, a bad time, a range backwards, too long or
// outside what is kept.
var ErrHistoryQuery = errors.New("bad history query")

// Metric names one measured quantity of a reading.
type Metric string

// The metrics history keeps.
const (
	Temperature Metric = "temperature"
	Humidity    Metric = "humidity"
	Pressure    Metric = "pressure"
	Light       Metric = "light"
)

// Metrics lists every metric history keeps.
var Metrics = []Metric{Temperature, Humidity, Pressure, Light}

// ParseMetric returns the metric named s.
func ParseMetric(s string) (Metric, error) {
	if m := Metric(s); slices.Contains(Metrics, m) {
		return m, nil
	}
	return "", fmt.Errorf("%w: metric must be one of temperature, humidity, pressure, light, not %.32q", ErrHistoryQuery, s)
}

// value is the reading's value of m, or nil.
func (m Metric) value(r Reading) *float64 {
	switch m {
	case Temperature:
		return r.Temperature
	case Humidity:
		return r.Humidity
	case Pressure:
		return r.Pressure
	default:
		return r.Light
	}
}

// Bucket aggregates the values of one metric over one interval. It is
// stored as [n, min, max, sum], which keeps an hour's record small.
type Bucket struct {
	N             int64
	Min, Max, Sum float64
}

// Add counts v in b.
func (b *Bucket) Add(v float64) { b.Merge(Bucket{N: 1, Min: v, Max: v, Sum: v}) }

// Merge adds the values counted in o to b.
func (b *Bucket) Merge(o Bucket) {
	switch {
	case o.N == 0:
		return
	case b.N == 0:
		*b = o
		return
	}
	b.N += o.N
	b.Min = min(b.Min, o.Min)
	b.Max = max(b.Max, o.Max)
	b.Sum += o.Sum
}

// Avg is the mean of the values counted; 0 for an empty bucket.
func (b Bucket) Avg() float64 {
	if b.N == 0 {
		return 0
	}
	return b.Sum / float64(b.N)
}

// MarshalJSON writes b as [n, min, max, sum]. It is written by hand: a
// commit encodes every bucket of each history record it writes, and
// encoding/json's reflection per bucket was most of the cost.
func (b Bucket) MarshalJSON() ([]byte, error) { return b.appendJSON(make([]byte, 0, 48)) }

func (b Bucket) appendJSON(buf []byte) ([]byte, error) {
	buf = append(buf, '[')
	buf = strconv.AppendInt(buf, b.N, 10)
	for _, v := range [3]float64{b.Min, b.Max, b.Sum} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("history bucket: %v is not a JSON number", v)
		}
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
	}
	return append(buf, ']'), nil
}

// UnmarshalJSON reads [n, min, max, sum], parsed by hand for the same
// reason.
func (b *Bucket) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	inner, ok := strings.CutPrefix(s, "[")
	if inner, ok = strings.CutSuffix(inner, "]"); !ok {
		return fmt.Errorf("history bucket: %q is not [n, min, max, sum]", s)
	}
	var a [4]float64
	i := 0
	for field := range strings.SplitSeq(inner, ",") {
		if i == len(a) {
			return fmt.Errorf("history bucket: %q has more than 4 numbers", s)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
		if err != nil || math.IsInf(v, 0) {
			return fmt.Errorf("history bucket: %q: not a number: %q", s, field)
		}
		a[i] = v
		i++
	}
	if i != len(a) || a[0] < 0 || a[0] != math.Trunc(a[0]) {
		return fmt.Errorf("history bucket: %q is not [n, min, max, sum]", s)
	}
	*b = Bucket{N: int64(a[0]), Min: a[1], Max: a[2], Sum: a[3]}
	return nil
}

// Series is one metric's history over one hour: the hour's aggregate and,
// while minute detail is kept, a bucket per minute of the hour (0–59) that
// had a value.
type Series struct {
	Hour    Bucket         `json:"h"`
	Minutes map[int]Bucket `json:"m,omitempty"`
}

// HourRecord is the stored history of one device over one hour, under
// HistoryKey. One record per device and hour means one extra write per
// device per commit (two when a commit's readings span an hour boundary),
// and an hour-step query reads one small aggregate per hour.
type HourRecord struct {
	Hour    time.Time          `json:"hour"`
	Metrics map[Metric]*Series `json:"metrics,omitempty"`
}

// MarshalJSON writes h as encoding/json would (the same fields, metrics
// and minutes in order), by hand: see AppendJSON.
func (h HourRecord) MarshalJSON() ([]byte, error) { return h.AppendJSON(nil) }

// AppendJSON appends h's JSON to buf. Every commit encodes the history
// record of each device it writes, and encoding/json (maps of maps of
// buckets, each re-validated) was most of what history cost it.
func (h HourRecord) AppendJSON(buf []byte) ([]byte, error) {
	buf = append(buf, `{"hour":"`...)
	buf = h.Hour.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	if len(h.Metrics) > 0 {
		buf = append(buf, `,"metrics":{`...)
		names := make([]Metric, 0, len(h.Metrics))
		for m := range h.Metrics {
			names = append(names, m)
		}
		slices.Sort(names)
		for i, m := range names {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendQuote(buf, string(m))
			buf = append(buf, ':')
			s := h.Metrics[m]
			if s == nil {
				buf = append(buf, "null"...)
				continue
			}
			var err error
			if buf, err = s.appendJSON(buf); err != nil {
				return nil, err
			}
		}
		buf = append(buf, '}')
	}
	return append(buf, '}'), nil
}

func (s Series) appendJSON(buf []byte) ([]byte, error) {
	buf = append(buf, `{"h":`...)
	buf, err := s.Hour.appendJSON(buf)
	if err != nil {
		return nil, err
	}
	if len(s.Minutes) > 0 {
		buf = append(buf, `,"m":{`...)
		minutes := make([]int, 0, len(s.Minutes))
		for m := range s.Minutes {
			minutes = append(minutes, m)
		}
		slices.Sort(minutes)
		for i, m := range minutes {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '"')
			buf = strconv.AppendInt(buf, int64(m), 10)
			buf = append(buf, `":`...)
			if buf, err = s.Minutes[m].appendJSON(buf); err != nil {
				return nil, err
			}
		}
		buf = append(buf, '}')
	}
	return append(buf, '}'), nil
}

// HourOf is the start of the UTC hour holding t.
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// HistoryKey is the store key of a device's history record for the hour
// holding t: history:{escaped id}:{yyyymmddhh}, in UTC.
func HistoryKey(id string, t time.Time) string {
	return historyPrefix + url.PathEscape(id) + ":" + HourOf(t).Format("2006010215")
}

// Add counts the calibrated values of in, an accepted reading of the
// record's hour, in the hour's buckets, and in its minute's buckets when
// minutes is true (the reading is recent enough for minute detail).
func (h *HourRecord) Add(in Input, minutes bool) {
	if h.Hour.IsZero() {
		h.Hour = HourOf(in.At)
	}
	minute := in.At.UTC().Minute()
	for _, m := range Metrics {
		v := m.value(in.Calibrated)
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			continue
		}
		if h.Metrics == nil {
			h.Metrics = make(map[Metric]*Series)
		}
		s := h.Metrics[m]
		if s == nil {
			s = &Series{}
			h.Metrics[m] = s
		}
		s.Hour.Add(*v)
		if minutes {
			if s.Minutes == nil {
				s.Minutes = make(map[int]Bucket)
			}
			b := s.Minutes[minute]
			b.Add(*v)
			s.Minutes[minute] = b
		}
	}
}

// DropMinutes removes the minute detail, keeping the hour's aggregates. It
// reports whether there was any to drop.
func (h *HourRecord) DropMinutes() bool {
	dropped := false
	for _, s := range h.Metrics {
		dropped = dropped || len(s.Minutes) > 0
		s.Minutes = nil
	}
	return dropped
}

// Point is one bucket of a history answer.
type Point struct {
	T             time.Time
	Min, Avg, Max float64
	N             int64
}

// point is b as a Point starting at t.
func point(t time.Time, b Bucket) Point {
	return Point{T: t, Min: b.Min, Avg: b.Avg(), Max: b.Max, N: b.N}
}

// Points are the non-empty buckets of metric m in records that start in
// [from, to), in time order: hour aggregates for step time.Hour, else
// minute buckets, where those that start before minutesFrom (minute detail
// past its retention, not yet dropped) are left out.
func Points(records []HourRecord, m Metric, from, to time.Time, step time.Duration, minutesFrom time.Time) []Point {
	var out []Point
	for _, r := range records {
		s := r.Metrics[m]
		if s == nil {
			continue
		}
		if step == time.Hour {
			if !r.Hour.Before(from) && r.Hour.Before(to) && s.Hour.N > 0 {
				out = append(out, point(r.Hour, s.Hour))
			}
			continue
		}
		for minute, b := range s.Minutes {
			t := r.Hour.Add(time.Duration(minute) * time.Minute)
			if !t.Before(from) && t.Before(to) && !t.Before(minutesFrom) && b.N > 0 {
				out = append(out, point(t, b))
			}
		}
	}
	slices.SortFunc(out, func(a, b Point) int { return a.T.Compare(b.T) })
	return out
}

// Retention is how long history is kept: minute buckets for Minutes, hour
// aggregates for Hours. Hours 0 keeps no history at all; Minutes 0 keeps
// hour aggregates only.
type Retention struct {
	Minutes, Hours time.Duration
}

// MaxSpan is the longest range one history query may ask for, by step:
// 48 hours of minutes (2,880 points) or 31 days of hours (744 points, as
// many records read).
var MaxSpan = map[time.Duration]time.Duration{time.Minute: 48 * time.Hour, time.Hour: 31 * 24 * time.Hour}

// ParseStep reads a query's step: "1m" or "1h".
func ParseStep(s string) (time.Duration, error) {
	switch s {
	case "1m":
		return time.Minute, nil
	case "1h":
		return time.Hour, nil
	}
	return 0, fmt.Errorf("%w: step must be 1m or 1h, not %.32q", ErrHistoryQuery, s)
}

// Oldest is the start of the oldest bucket of step that keep holds at now;
// the zero time when it holds none.
func (keep Retention) Oldest(step time.Duration, now time.Time) time.Time {
	switch {
	case keep.Hours <= 0:
		return time.Time{}
	case step == time.Hour:
		return HourOf(now.Add(-keep.Hours))
	case keep.Minutes <= 0:
		return time.Time{}
	default:
		return now.Add(-keep.Minutes).UTC().Truncate(time.Minute)
	}
}

// CheckRange checks a query of [from, to) in buckets of step at now: from
// before to, no longer than MaxSpan, and overlapping what keep holds. A
// range that reaches past the retention is answered with what is kept.
func (keep Retention) CheckRange(from, to time.Time, step time.Duration, now time.Time) error {
	limit, ok := MaxSpan[step]
	switch {
	case !ok:
		return fmt.Errorf("%w: step must be 1m or 1h", ErrHistoryQuery)
	case !from.Before(to):
		return fmt.Errorf("%w: from must be before to", ErrHistoryQuery)
	case to.Sub(from) > limit:
		return fmt.Errorf("%w: a query with step %s spans at most %s", ErrHistoryQuery, stepName(step), limit)
	}
	oldest := keep.Oldest(step, now)
	switch {
	case oldest.IsZero():
		return fmt.Errorf("%w: history with step %s is not kept", ErrHistoryQuery, stepName(step))
	case !to.After(oldest):
		return fmt.Errorf("%w: the range ends before the oldest %s bucket kept (%s)", ErrHistoryQuery, stepName(step), oldest.Format(time.RFC3339))
	case from.After(now):
		return fmt.Errorf("%w: the range starts in the future", ErrHistoryQuery)
	}
	return nil
}

func stepName(step time.Duration) string {
	if step == time.Hour {
		return "1h"
	}
	return "1m"
}
