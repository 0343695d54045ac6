package main

import (
	"context"
	"fmt"
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
	root := testenv.RepoRoot(t)
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	for _, f := range []string{"vendor/signalr.min.js", "node_modules/playwright-core"} {
		if _, err := os.Stat(filepath.Join(root, "dashboard", f)); err != nil {
			testenv.Missing(t, "dashboard/"+f, "make dashboard")
		}
	}
	// Every page of every test negotiates from 127.0.0.1: more than one
	// visitor's budget.
	a, _, _ := startEmbedded(t, "-dashboard", filepath.Join(root, "dashboard"), "-simulate", "5", "-sim-rate", "2",
		"-negotiate-per-minute", "600")

	artifacts := os.Getenv("ENVIROMON_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "test-artifacts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=tap", filepath.Join("dashboard", "test", "dashboard.test.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ENVIROMON_URL=http://"+a.httpAddr, "ENVIROMON_ARTIFACTS="+artifacts)
	out, err := cmd.CombinedOutput()
	text := string(out)
	passed, failed := tapCount(text, "pass"), tapCount(text, "fail")
	if err != nil || failed != 0 || passed < browserTests {
		t.Log(text)
	}
	require.NoError(t, err, "browser tests failed")
	assert.Zero(t, failed)
	assert.GreaterOrEqual(t, passed, browserTests, "every browser test ran and passed")
	assert.FileExists(t, filepath.Join(artifacts, "dashboard.png"))
	if m := regexp.MustCompile(`latency lastSeen→page[^\n]*`).FindString(text); m != "" {
		artifact(t, "latency.txt", fmt.Sprintf("%s Chromium dashboard, embedded, 5 devices at 2 msg/s: %s\n", time.Now().UTC().Format(time.RFC3339), m))
	}
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
