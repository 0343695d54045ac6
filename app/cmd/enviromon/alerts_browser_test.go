package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// alertBrowserTests is how many tests dashboard/test/alerts-browser.test.mjs
// holds; a run with fewer passes means some were skipped or never ran.
const alertBrowserTests = 2

// alertScreenshots are what the alert browser tests must leave in the
// artifacts folder.
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

	runBrowserTests(t, browserRun{file: "alerts-browser.test.mjs", url: "http://" + a.httpAddr, want: alertBrowserTests,
		screenshots: alertScreenshots, timeout: 4 * time.Minute})
}
