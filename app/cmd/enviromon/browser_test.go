package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// browserTests is how many tests dashboard/test/dashboard.test.mjs holds; a
// run with fewer passes means some were skipped or never ran.
const browserTests = 9

// TestDashboardInChromium starts the app in embedded mode with simulated
// devices and runs the dashboard's browser tests (playwright-core driving
// Debian's Chromium) against it: cards and rising counts, a calibration
// change, a rejected reading, a device going offline, a dropped and resumed
// SignalR connection, HTML injection, a phone viewport, the page under the
// app's Content-Security-Policy. The screenshots and
// the publish-to-page latency land in test-artifacts/.
func TestDashboardInChromium(t *testing.T) {
	root := requireBrowser(t)
	// Every page of every test negotiates from 127.0.0.1: more than one
	// visitor's budget.
	a, _, _ := startEmbedded(t, "-dashboard", filepath.Join(root, "dashboard"), "-simulate", "5", "-sim-rate", "2",
		"-negotiate-per-minute", "600")

	text := runBrowserTests(t, browserRun{file: "dashboard.test.mjs", url: "http://" + a.httpAddr, want: browserTests,
		screenshots: []string{"dashboard.png"}, timeout: 5 * time.Minute})
	if m := regexp.MustCompile(`latency lastSeen→page[^\n]*`).FindString(text); m != "" {
		artifact(t, "latency.txt", fmt.Sprintf("%s Chromium dashboard, embedded, 5 devices at 2 msg/s: %s\n", time.Now().UTC().Format(time.RFC3339), m))
	}
}

// requireBrowser checks what the browser tests need (Debian's Chromium,
// node, the dashboard built: `make dashboard`) and returns the repository's
// root; what is missing is reported as testenv.Missing does.
func requireBrowser(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	for _, bin := range []string{"chromium", "node"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Missing(t, bin, "apt-get install "+bin)
		}
	}
	for _, f := range []string{"vendor/signalr.min.js", "vendor/uPlot.iife.min.js", "node_modules/playwright-core"} {
		if _, err := os.Stat(filepath.Join(root, "dashboard", f)); err != nil {
			testenv.Missing(t, "dashboard/"+f, "make dashboard")
		}
	}
	return root
}

// browserRun is one of the dashboard's browser test files run against the
// app at url.
type browserRun struct {
	file        string   // in dashboard/test
	url         string   // ENVIROMON_URL
	env         []string // more environment, NAME=value
	want        int      // how many tests the file holds
	screenshots []string // files the tests must leave in the artifacts folder
	timeout     time.Duration
}

// runBrowserTests runs r's file with node's test runner (playwright-core
// driving Debian's Chromium) and returns its TAP output. It fails when a
// test fails or fewer than r.want passed (some were skipped or never ran),
// or a screenshot is missing; old copies of the screenshots are removed
// first, so a stale one cannot pass for this run.
func runBrowserTests(t *testing.T, r browserRun) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	artifacts := os.Getenv("ENVIROMON_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "test-artifacts")
	}
	for _, name := range r.screenshots {
		if err := os.Remove(filepath.Join(artifacts, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			require.NoError(t, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=tap", filepath.Join("dashboard", "test", r.file))
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "ENVIROMON_URL="+r.url, "ENVIROMON_ARTIFACTS="+artifacts), r.env...)
	out, err := cmd.CombinedOutput()
	text := string(out)
	passed, failed := tapCount(text, "pass"), tapCount(text, "fail")
	if err != nil || failed != 0 || passed < r.want {
		t.Log(text)
	}
	t.Logf("%s: %d passed, %d failed", r.file, passed, failed)
	require.NoError(t, err, "%s failed", r.file)
	assert.Zero(t, failed)
	assert.GreaterOrEqual(t, passed, r.want, "every test of %s ran and passed", r.file)
	for _, name := range r.screenshots {
		assert.FileExists(t, filepath.Join(artifacts, name))
	}
	return text
}

// tapCount reads "# pass N" or "# fail N" from node's TAP summary.
func tapCount(tap, what string) int {
	for _, line := range strings.Split(tap, "\n") {
		if v, ok := strings.CutPrefix(line, "# "+what+" "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}
