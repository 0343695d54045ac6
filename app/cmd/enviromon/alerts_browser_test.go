package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// alertBrowserTests is how many tests dashboard/test/alerts-browser.test.mjs
// holds; a run with fewer passes means some were skipped or never ran.
const alertBrowserTests = 2

// alertScreenshots are what the alert browser tests must leave in the
// artifacts folder; old copies are removed first, so a stale one from an
// earlier run cannot pass for this one.
var alertScreenshots = []string{"alert-firing.png", "alert-cleared.png", "alert-phone.png"}

// TestAlertsInChromium starts the app in embedded mode and runs the
// dashboard's alert browser tests (playwright-core driving Debian's
// Chromium) against it: a rule made through the API, readings over POST
// /api/telemetry that raise it, the raise shown live with the fleet's
// active-alert figure, an acknowledgement the API then lists, readings that
// clear it past the rule's hysteresis, the clear shown live; then the list
// on a phone, and a refused acknowledgement. Alerts are evaluated as each
// commit lands, so no sweep interval is waited for. The screenshots land in
// test-artifacts/.
func TestAlertsInChromium(t *testing.T) {
	root := testenv.RepoRoot(t)
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(t, "chromium", "apt-get install chromium")
	}
	for _, f := range []string{"vendor/signalr.min.js", "node_modules/playwright-core"} {
		if _, err := os.Stat(filepath.Join(root, "dashboard", f)); err != nil {
			testenv.Missing(t, "dashboard/"+f, "make dashboard")
		}
	}
	a, _, _ := startEmbedded(t, "-dashboard", filepath.Join(root, "dashboard"))

	artifacts := os.Getenv("ENVIROMON_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "test-artifacts")
	}
	for _, name := range alertScreenshots {
		if err := os.Remove(filepath.Join(artifacts, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			require.NoError(t, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=tap", filepath.Join("dashboard", "test", "alerts-browser.test.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ENVIROMON_URL=http://"+a.httpAddr, "ENVIROMON_ARTIFACTS="+artifacts)
	out, err := cmd.CombinedOutput()
	text := string(out)
	passed, failed := tapCount(text, "pass"), tapCount(text, "fail")
	if err != nil || failed != 0 || passed < alertBrowserTests {
		t.Log(text)
	}
	require.NoError(t, err, "alert browser tests failed")
	assert.Zero(t, failed)
	assert.GreaterOrEqual(t, passed, alertBrowserTests, "every alert browser test ran and passed")
	for _, name := range alertScreenshots {
		assert.FileExists(t, filepath.Join(artifacts, name))
	}
}
