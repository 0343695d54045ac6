// Command benchreport turns the output of `make bench` (go test -bench) into
// the README's Performance section: the machine, the date, the commands, the
// targets and one table per benchmark, each figure a median with its range,
// and the top CPU costs of each saved profile. Nothing in that section is
// typed by hand.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	in := fs.String("in", "bench.out", "go test -bench output")
	readme := fs.String("readme", "README.md", "file whose bench block is rewritten")
	runs := fs.String("runs", "the runs", "how many runs each figure summarises, for the text")
	profiles := fs.String("profiles", "test-artifacts/profiles", "folder of CPU profiles (*.pprof) to name the top costs of")
	var commands multi
	fs.Var(&commands, "command", "a command that produced the figures (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return err
	}
	if len(res.order) == 0 {
		return fmt.Errorf("%s holds no benchmark results", *in)
	}
	h := header{
		date:     time.Now().UTC().Format("2006-01-02"),
		machine:  machine(res.cpu),
		versions: versions(),
		commands: commands,
		runs:     *runs,
	}
	body := render(res, h) + topCosts(*profiles)
	doc, err := os.ReadFile(*readme)
	if err != nil {
		return err
	}
	out, err := splice(string(doc), body)
	if err != nil {
		return err
	}
	return os.WriteFile(*readme, []byte(out), 0o644)
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, "; ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// machine describes the CPU, cores and memory.
func machine(cpu string) string {
	if cpu == "" {
		cpu = "unknown CPU"
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %d GB RAM", (kb+(1<<19))>>20)
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

// versions names the toolchain and the services measured.
func versions() string {
	parts := []string{runtime.Version()}
	if out, err := exec.Command("mosquitto", "-h").CombinedOutput(); len(out) > 0 {
		_ = err // mosquitto -h exits 3
		line, _, _ := strings.Cut(string(out), "\n")
		parts = append(parts, strings.TrimSpace(line))
	}
	if v := os.Getenv("DAPR_VERSION"); v != "" {
		parts = append(parts, "daprd "+v)
	}
	return strings.Join(parts, ", ")
}

// topCosts names the three packages with the largest flat CPU share in each
// profile, with each one's costliest function, as `go tool pprof -top`
// reports them.
func topCosts(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pprof"))
	if len(files) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n**Top CPU costs** by package (flat share of the CPU profiles `make bench` saves in `" + dir + "/`, git-ignored):\n\n")
	for _, file := range files {
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=100000", file).Output()
		name := strings.TrimSuffix(filepath.Base(file), ".pprof")
		if err != nil {
			fmt.Fprintf(&b, "- %s: unreadable (%v)\n", name, err)
			continue
		}
		fmt.Fprintf(&b, "- %s: %s\n", name, strings.Join(costs(string(out), 3), "; "))
	}
	return b.String()
}

// costs sums pprof -top's flat percentages by package and returns the n
// largest, each with its costliest function.
func costs(top string, n int) []string {
	type pkg struct {
		name  string
		share float64
		first string // costliest function, pprof lists them in flat order
	}
	byName := map[string]*pkg{}
	var order []*pkg
	inTable := false
	for line := range strings.Lines(top) {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == "flat" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 6 {
			continue
		}
		share, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		if err != nil {
			continue
		}
		fn := strings.Join(f[5:], " ")
		p := byName[pkgOf(fn)]
		if p == nil {
			p = &pkg{name: pkgOf(fn), first: fn}
			byName[p.name] = p
			order = append(order, p)
		}
		p.share += share
	}
	slices.SortStableFunc(order, func(a, b *pkg) int { return cmp.Compare(b.share, a.share) })
	var out []string
	for _, p := range order[:min(n, len(order))] {
		out = append(out, fmt.Sprintf("`%s` %.0f %% (most in `%s`)", p.name, p.share, strings.TrimPrefix(p.first, p.name+".")))
	}
	return out
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
