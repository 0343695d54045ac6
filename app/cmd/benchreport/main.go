// Command benchreport turns the output of `make bench` (go test -bench) into
// the README's Performance section: the machine, the date, the commands, the
// targets and one table per benchmark, each figure a median with its range,
// and the top CPU costs of each saved profile. Nothing in that section is
// typed by hand.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
	readme := fs.String("readme", "README.md", "file whose block is rewritten")
	block := fs.String("block", "bench", "the README block to rewrite, <!-- BLOCK:begin … --> … <!-- BLOCK:end -->, written by make BLOCK")
	measuredOnly := fs.Bool("measured-only", false, "list only the targets of the benchmarks that ran (for a block that runs some of them)")
	runs := fs.String("runs", "the runs", "how many runs each figure summarises, for the text")
	profiles := fs.String("profiles", "test-artifacts/profiles", "folder of CPU profiles (*.pprof) to name the top costs of; empty: none")
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
		by:           "make " + *block,
		measuredOnly: *measuredOnly,
		date:         time.Now().UTC().Format("2006-01-02"),
		machine:      machine(res.cpu),
		versions:     versions(),
		commands:     commands,
		runs:         *runs,
	}
	body := render(res, h)
	if *profiles != "" {
		body += topCosts(*profiles)
	}
	doc, err := os.ReadFile(*readme)
	if err != nil {
		return err
	}
	out, err := splice(string(doc), *block, body)
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
