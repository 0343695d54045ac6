package deploy

import (
	"testing"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// repoRoot is the repository's top folder, so that tests can read deploy/,
// components/ and the Dockerfile wherever go test runs them from.
func repoRoot(t *testing.T) string { return testenv.RepoRoot(t) }
