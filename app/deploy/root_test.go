package deploy

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the repository's top folder (the one holding go.mod), so that
// tests can read deploy/, components/ and the Dockerfile wherever go test
// runs them from.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
