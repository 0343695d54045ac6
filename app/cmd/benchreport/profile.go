package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// components name the parts of the app a CPU sample can be charged to, by
// the package of the first frame, from the leaf up, that is not the Go
// runtime or a low-level standard package. The first prefix that matches
// wins.
var components = []struct{ prefix, name string }{
	{"github.com/enviromon/enviromon/app/broker", "embedded broker (mochi + bbolt)"},
	{"github.com/mochi-mqtt/", "embedded broker (mochi + bbolt)"},
	{"go.etcd.io/bbolt", "embedded broker (mochi + bbolt)"},
	{"modernc.org/sqlite", "SQLite"},
	{"github.com/dapr/components-contrib/state/sqlite", "SQLite"},
	{"database/sql", "SQLite"},
	{"github.com/dapr/components-contrib/state/redis", "Redis client"},
	{"github.com/redis/", "Redis client"},
	{"github.com/eclipse/paho", "MQTT input binding (paho)"},
	{"github.com/dapr/components-contrib/bindings/mqtt3", "MQTT input binding (paho)"},
	{"github.com/enviromon/enviromon/app/inprocess", "MQTT input binding (paho)"},
	{"encoding/json", "JSON"},
	{"github.com/enviromon/enviromon/app/pipeline", "pipeline (decode, calibrate, validate, group)"},
	{"github.com/enviromon/enviromon/app/telemetry", "pipeline (decode, calibrate, validate, group)"},
	{"google.golang.org/grpc", "gRPC to daprd"},
	{"google.golang.org/protobuf", "gRPC to daprd"},
	{"github.com/dapr/go-sdk", "gRPC to daprd"},
	{"github.com/enviromon/enviromon/app/dapr", "gRPC to daprd"},
	{"net/http", "HTTP from daprd (h2c)"},
	{"golang.org/x/net/http2", "HTTP from daprd (h2c)"},
	{"github.com/gin-gonic/", "HTTP from daprd (h2c)"},
	{"github.com/enviromon/enviromon/app/signalr", "local SignalR service"},
	{"github.com/enviromon/enviromon/app/notify", "live updates"},
	{"github.com/dapr/components-contrib/bindings/azure/signalr", "live updates"},
}

// lowLevel are standard packages that work for whoever called them.
var lowLevel = []string{"runtime", "internal/", "syscall", "sync", "net", "bufio", "bytes", "io", "os",
	"strings", "strconv", "reflect", "time", "unicode", "math", "sort", "slices", "maps", "fmt", "context", "crypto/", "hash", "compress/"}

// charge names what a sample's stack (leaf first) is charged to.
func charge(funcs []string) string {
	for _, fn := range funcs {
		if strings.HasPrefix(fn, "runtime.gcBgMarkWorker") {
			return "garbage collector"
		}
	}
	for _, fn := range funcs {
		pkg := pkgOf(fn)
		for _, c := range components {
			if strings.HasPrefix(pkg, c.prefix) || pkg+"/" == c.prefix {
				return c.name
			}
		}
		low := false
		for _, l := range lowLevel {
			if pkg == l || strings.HasPrefix(pkg, l+"/") || (strings.HasSuffix(l, "/") && strings.HasPrefix(pkg, l)) {
				low = true
				break
			}
		}
		if !low {
			return pkg
		}
	}
	return "Go runtime (scheduler, allocator)"
}

// share is one component's part of a profile's CPU time.
type share struct {
	name    string
	percent float64
}

// costsOf reads a CPU profile and returns its components by CPU share,
// largest first.
func costsOf(path string) ([]share, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	idx := len(p.SampleType) - 1 // cpu nanoseconds
	by := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		var funcs []string
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil {
					funcs = append(funcs, l.Function.Name)
				}
			}
		}
		v := s.Value[idx]
		by[charge(funcs)] += v
		total += v
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	out := make([]share, 0, len(by))
	for name, v := range by {
		out = append(out, share{name: name, percent: 100 * float64(v) / float64(total)})
	}
	slices.SortFunc(out, func(a, b share) int {
		return cmp.Or(cmp.Compare(b.percent, a.percent), strings.Compare(a.name, b.name))
	})
	return out, nil
}

// topCosts names the three largest costs of each CPU profile in dir.
func topCosts(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pprof"))
	if len(files) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n**Top CPU costs** of the app (share of its CPU time in the profiles `make bench` saves in `" + dir +
		"/`, git-ignored; each sample is charged to the first frame above the Go runtime and low-level standard packages):\n\n")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".pprof")
		shares, err := costsOf(file)
		if err != nil {
			fmt.Fprintf(&b, "- %s: unreadable (%v)\n", name, err)
			continue
		}
		var top []string
		for _, s := range shares[:min(3, len(shares))] {
			top = append(top, fmt.Sprintf("%s %.0f %%", s.name, s.percent))
		}
		fmt.Fprintf(&b, "- %s: %s\n", name, strings.Join(top, "; "))
	}
	return b.String()
}

// pkgOf returns the import path of a pprof function name such as
// github.com/a/b.(*T).M or runtime.mallocgc.
func pkgOf(fn string) string {
	slash := strings.LastIndex(fn, "/")
	dot := strings.Index(fn[slash+1:], ".")
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}
