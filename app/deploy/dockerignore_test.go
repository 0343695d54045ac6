package deploy

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ignoreRule is one .dockerignore pattern compiled the way Docker's
// patternmatcher does: "**" spans folders, "*" and "?" stay inside one,
// "!" re-includes, and the last rule that matches a path decides.
type ignoreRule struct {
	pattern string
	re      *regexp.Regexp
	include bool // a "!" rule
}

// dockerignore is a parsed .dockerignore.
type dockerignore []ignoreRule

// parseDockerignore reads .dockerignore text: one pattern a line, "#"
// comments, paths relative to the context root with a leading "/" ignored.
func parseDockerignore(text string) (dockerignore, error) {
	var rules dockerignore
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.include, line = true, strings.TrimSpace(line[1:])
		}
		r.pattern = strings.TrimPrefix(path.Clean(line), "/")
		re, err := ignoreRegexp(r.pattern)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", n+1, line, err)
		}
		r.re = re
		rules = append(rules, r)
	}
	return rules, nil
}

// ignoreRegexp translates a pattern as patternmatcher's compile does.
func ignoreRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++ // "**/" is "**"
			}
			if i+1 == len(p) {
				b.WriteString(".*")
			} else {
				b.WriteString("(.*/)?") // any number of folders, none too
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			b.WriteString(p[i : i+end+1])
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// excluded reports whether rel (slash-separated, relative to the context
// root) stays out of the build context. As in Docker, a rule that matches
// a parent folder matches everything under it.
func (d dockerignore) excluded(rel string) bool {
	rel = strings.TrimPrefix(path.Clean(rel), "/")
	parts := strings.Split(rel, "/")
	out := false
	for _, r := range d {
		match := r.re.MatchString(rel)
		for i := 1; !match && i < len(parts); i++ {
			match = r.re.MatchString(strings.Join(parts[:i], "/"))
		}
		if match {
			out = !r.include
		}
	}
	return out
}

// The matcher itself, on the examples of Docker's documentation and on the
// patterns this repository uses: a wrong matcher would make the Dockerfile
// test pass for a context Docker builds differently.
func TestDockerfileContextIgnore(t *testing.T) {
	tests := []struct {
		patterns string
		path     string
		excluded bool
	}{
		{"*/temp*", "somedir/temporary.txt", true},
		{"*/temp*", "temp", false},
		{"*/temp*", "somedir/sub/temp", false},
		{"*/*/temp*", "somedir/subdir/temporary.txt", true},
		{"temp?", "tempa", true},
		{"temp?", "tempab", false},
		{"data", "data/dev.db", true},
		{"data", "app/data", false},
		{"/data", "data", true},
		{"**/node_modules", "dashboard/node_modules/@microsoft/signalr/package.json", true},
		{"**/node_modules", "node_modules", true},
		{"**/*_test.go", "app/deploy/dockerfile_test.go", true},
		{"**/*_test.go", "main_test.go", true},
		{"**/*_test.go", "app/deploy/doc.go", false},
		{"dashboard/vendor", "dashboard/vendor/signalr.min.js", true},
		{"dashboard/vendor", "dashboard/vendors.js", false},
		{"*.md\n!README.md", "README.md", false},
		{"*.md\n!README.md", "CHANGES.md", true},
		{"docs\n!docs/keep.md", "docs/keep.md", false},
		{"!docs/keep.md\ndocs", "docs/keep.md", true}, // the last match wins
		{"app/[a-c]*", "app/binding", true},
		{"app/[a-c]*", "app/deploy", false},
		{"# a comment\n\n  go.sum  ", "go.sum", true},
		{"deploy", "app/deploy/root_test.go", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%s", tt.patterns, tt.path), func(t *testing.T) {
			d, err := parseDockerignore(tt.patterns)
			require.NoError(t, err)
			assert.Equal(t, tt.excluded, d.excluded(tt.path))
		})
	}
}
