package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sample is every value one benchmark reported for one unit, over runs.
type sample struct {
	values []float64
}

// median returns the middle value (the mean of the two middle ones for an
// even count).
func (s sample) median() float64 {
	v := slices.Sorted(slices.Values(s.values))
	n := len(v)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// spread returns the smallest and largest value.
func (s sample) spread() (lo, hi float64) { return slices.Min(s.values), slices.Max(s.values) }

// results holds a `go test -bench` output: benchmark name (without the
// -GOMAXPROCS suffix) → unit → values, and the names in first-seen order.
type results struct {
	order []string
	units map[string][]string // units in first-seen order, per benchmark
	data  map[string]map[string]*sample
	cpu   string // the "cpu:" header line
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark result lines; other lines are ignored.
func parse(r io.Reader) (*results, error) {
	res := &results{units: map[string][]string{}, data: map[string]map[string]*sample{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = strings.TrimSpace(cpu)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line: a log line starting with a benchmark name
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		if res.data[name] == nil {
			res.data[name] = map[string]*sample{}
			res.order = append(res.order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", name, f[i], err)
			}
			unit := f[i+1]
			s := res.data[name][unit]
			if s == nil {
				s = &sample{}
				res.data[name][unit] = s
				res.units[name] = append(res.units[name], unit)
			}
			s.values = append(s.values, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return res, nil
}

// get returns the sample of name and unit, if reported.
func (r *results) get(name, unit string) (sample, bool) {
	s, ok := r.data[name][unit]
	if !ok {
		return sample{}, false
	}
	return *s, true
}

// ran reports whether benchmark name's top-level benchmark (the part
// before the first /) reported anything.
func (r *results) ran(name string) bool {
	top, _, _ := strings.Cut(name, "/")
	for _, n := range r.order {
		if t, _, _ := strings.Cut(n, "/"); t == top {
			return true
		}
	}
	return false
}

// cell formats a sample as "median (min–max)", with the precision its size
// deserves.
func cell(s sample) string {
	m := s.median()
	if len(s.values) == 1 {
		return num(m)
	}
	lo, hi := s.spread()
	return fmt.Sprintf("%s (%s–%s)", num(m), num(lo), num(hi))
}

// num prints large figures as integers with thousands separators and small
// ones with two or three significant decimals.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a >= 100:
		s := strconv.FormatInt(int64(math.Round(v)), 10)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
