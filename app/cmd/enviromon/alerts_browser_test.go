package main

import (
	"path/filepath"
	"testing"
	"time"
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
	root := requireBrowser(t)
	a, _, _ := startEmbedded(t, "-dashboard", filepath.Join(root, "dashboard"))

	runBrowserTests(t, browserRun{file: "alerts-browser.test.mjs", url: "http://" + a.httpAddr, want: alertBrowserTests,
		screenshots: alertScreenshots, timeout: 4 * time.Minute})
}
