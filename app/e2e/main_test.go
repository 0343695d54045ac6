//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// tools is what TestMain found and built, shared by every test.
var tools struct {
	root      string // repository root
	daprd     string // daprd binary
	config    string // the Configuration daprd is started with
	missing   string // why daprd cannot be used; "" when it can
	enviromon string // the app, built once
	signalr   string // the local SignalR service, built once
}

// daprdInstall says how to get daprd.
const daprdInstall = "make tools (or .ci/tools.sh), or set DAPR_RUNTIME_PATH to a folder holding .dapr/bin/daprd and .dapr/config.yaml"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	tools.root = root
	findDaprd(root)
	// The app and signalr-local, with or without daprd: some cases run without it.
	bin, err := buildBinaries(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(bin)
	code := m.Run()
	summary.mu.Lock()
	defer summary.mu.Unlock()
	fmt.Printf("\n=== e2e summary (total %s) ===\n", time.Since(began).Round(time.Second))
	for _, l := range summary.lines {
		fmt.Printf("  %s\n", l)
	}
	if tools.missing != "" {
		fmt.Printf("  daprd missing: %s\n", tools.missing)
	}
	return code
}

// buildBinaries builds the app and signalr-local into a new temporary
// folder, which it returns, and sets tools.enviromon and tools.signalr.
func buildBinaries(root string) (string, error) {
	bin, err := os.MkdirTemp("", "enviromon-e2e-bin-")
	if err != nil {
		return "", err
	}
	t := time.Now()
	tools.enviromon, tools.signalr = filepath.Join(bin, "enviromon"), filepath.Join(bin, "signalr-local")
	for out, pkg := range map[string]string{tools.enviromon: "./app/cmd/enviromon", tools.signalr: "./app/cmd/signalr-local"} {
		if err := goBuild(root, out, pkg); err != nil {
			return "", errors.Join(err, os.RemoveAll(bin))
		}
	}
	record("build enviromon + signalr-local: %s (daprd %s)", time.Since(t).Round(time.Millisecond), tools.daprd)
	return bin, nil
}

// findDaprd looks in $DAPR_RUNTIME_PATH, else in the folder that
// `.ci/tools.sh --print-path` names.
func findDaprd(root string) {
	dir := os.Getenv("DAPR_RUNTIME_PATH")
	if dir == "" {
		out, err := exec.Command(filepath.Join(root, ".ci", "tools.sh"), "--print-path").Output()
		if err != nil {
			tools.missing = fmt.Sprintf(".ci/tools.sh --print-path: %v", err)
			return
		}
		dir = strings.TrimSpace(string(out))
	}
	tools.daprd = filepath.Join(dir, ".dapr", "bin", "daprd")
	tools.config = filepath.Join(dir, ".dapr", "config.yaml")
	for _, f := range []string{tools.daprd, tools.config} {
		if _, err := os.Stat(f); err != nil {
			tools.missing = err.Error()
			return
		}
	}
}

// requireTools skips the test (fails it when CI is set) without daprd.
func requireTools(t testing.TB) {
	t.Helper()
	if tools.missing != "" {
		testenv.Missing(t, "daprd ("+tools.missing+")", daprdInstall)
	}
}

func goBuild(root, out, pkg string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// repoRoot is the folder holding go.mod, upwards from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// summary collects one line per case for the end of the run.
var summary struct {
	mu    sync.Mutex
	lines []string
}

func record(format string, args ...any) {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	summary.lines = append(summary.lines, fmt.Sprintf(format, args...))
}
