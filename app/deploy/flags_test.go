package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// buildApp builds app/cmd/enviromon (package main, so not importable) into
// a temporary folder.
func buildApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "enviromon")
	cmd := exec.Command("go", "build", "-o", bin, "./app/cmd/enviromon")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./app/cmd/enviromon: %s", out)
	return bin
}

// runApp runs the app with args and an environment holding nothing but
// PATH, and returns what it printed. With "-h" last the app's own flag set
// parses every flag before it and stops at -h, so nothing starts.
func runApp(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Dir = t.TempDir()
	out, _ := cmd.CombinedOutput() // -h exits 1 by design
	require.NoError(t, ctx.Err(), "%s %v did not stop: a non-flag argument ended flag parsing before -h", bin, args)
	return string(out)
}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// checkFlags returns what is wrong with the flags and ENVIROMON_ variables
// the Deployment gives the app, according to the app itself.
func checkFlags(t *testing.T, bin string, a appDeployment) []string {
	t.Helper()
	known := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(runApp(t, bin, "-h"), -1) {
		known[m[1]] = true
	}
	require.NotEmpty(t, known, "enviromon -h lists no flags")
	var bad []string
	for name := range a.args {
		if !known[name] {
			bad = append(bad, fmt.Sprintf("Deployment %s: flag -%s is not in `enviromon -h`", appName, name))
		}
	}
	for _, e := range a.app.Env {
		name, ok := strings.CutPrefix(e.Name, "ENVIROMON_")
		if ok && !known[strings.ReplaceAll(strings.ToLower(name), "_", "-")] {
			bad = append(bad, fmt.Sprintf("Deployment %s: env %s is the twin of no flag", appName, e.Name))
		}
	}
	out := runApp(t, bin, append(append([]string(nil), a.app.Args...), "-h")...)
	if !strings.Contains(out, "flag: help requested") {
		bad = append(bad, fmt.Sprintf("Deployment %s: the app refuses its arguments %q:\n%s", appName, a.app.Args, out))
	}
	return bad
}

// TestAppFlags: the app accepts the arguments each overlay gives it.
func TestAppFlags(t *testing.T) {
	root := repoRoot(t)
	bin := buildApp(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			a, err := findApp(renderedObjects(t, root, dir))
			require.NoError(t, err)
			assert.Empty(t, checkFlags(t, bin, a), dir)
		})
	}
	t.Run("refuses", func(t *testing.T) {
		a, err := findApp([]object{{value: sampleDeployment(t)}})
		require.NoError(t, err)
		require.Empty(t, checkFlags(t, bin, a), "the sample is sound")
		a.app.Args = append(a.app.Args, "-stat", "statestore")
		a.args["stat"] = "statestore"
		a.app.Env = append(a.app.Env, corev1.EnvVar{Name: "ENVIROMON_STATESTORE", Value: "x"})
		bad := strings.Join(checkFlags(t, bin, a), "\n")
		assert.Contains(t, bad, "flag -stat is not in")
		assert.Contains(t, bad, "flag provided but not defined: -stat")
		assert.Contains(t, bad, "ENVIROMON_STATESTORE is the twin of no flag")
	})
}
