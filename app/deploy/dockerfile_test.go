package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dfInstruction is one Dockerfile instruction, continuation lines joined.
type dfInstruction struct {
	line  int               // where it starts
	cmd   string            // upper case: FROM, COPY, RUN, ...
	flags map[string]string // leading --name=value flags (--from, --platform, ...)
	args  []string          // the JSON array's elements, or the words
	exec  bool              // JSON (exec) form
	rest  string            // the text after the flags, as written
}

// dfStage is a FROM and the instructions up to the next one.
type dfStage struct {
	name  string // the AS name, or the stage's index
	image string
	steps []dfInstruction
}

// parseDockerfile splits text into stages. It knows what this repository's
// Dockerfile uses: comments and parser directives, "\" continuations (with
// comment lines inside them), flags, and exec or shell form.
func parseDockerfile(text string) ([]dfStage, error) {
	var ins []dfInstruction
	var cur strings.Builder
	start := 0
	for n, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n + 1
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		in, err := parseInstruction(start, cur.String())
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation runs past the end", start)
	}

	var stages []dfStage
	for _, in := range ins {
		if in.cmd == "FROM" {
			st := dfStage{name: fmt.Sprint(len(stages)), image: in.args[0]}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "AS") {
				st.name = in.args[2]
			} else if len(in.args) != 1 {
				return nil, fmt.Errorf("line %d: FROM %s", in.line, in.rest)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // global ARGs before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].steps = append(stages[len(stages)-1].steps, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

func parseInstruction(line int, text string) (dfInstruction, error) {
	cmd, rest, _ := strings.Cut(text, " ")
	in := dfInstruction{line: line, cmd: strings.ToUpper(cmd), flags: map[string]string{}}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		word, after, _ := strings.Cut(rest, " ")
		name, value, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		in.flags[name] = value
		rest = strings.TrimSpace(after)
	}
	in.rest = rest
	if strings.HasPrefix(rest, "[") {
		if err := json.Unmarshal([]byte(rest), &in.args); err != nil {
			return in, fmt.Errorf("line %d: %s: not a JSON array: %w", line, in.cmd, err)
		}
		in.exec = true
		return in, nil
	}
	in.args = strings.Fields(rest)
	if len(in.args) == 0 {
		return in, fmt.Errorf("line %d: %s without arguments", line, in.cmd)
	}
	return in, nil
}

// shellWords splits a command line as sh would, for the quoting this
// Dockerfile uses ("..." and '...'), and refuses shell operators.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case strings.ContainsRune("&|;<>`$()\\", r):
			return nil, fmt.Errorf("shell operator %q: keep each RUN a single command", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// stageSteps returns the instructions of st named cmd.
func stageSteps(st dfStage, cmd string) []dfInstruction {
	var out []dfInstruction
	for _, in := range st.steps {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func readDockerfile(t *testing.T, root string) ([]dfStage, dockerignore) {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	stages, err := parseDockerfile(string(df))
	require.NoError(t, err)
	di, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	ignore, err := parseDockerignore(string(di))
	require.NoError(t, err)
	return stages, ignore
}

// numericUser matches USER uid or uid:gid. A name ("nonroot") would not
// do: the kubelet cannot prove a named user is not root, and refuses such
// an image under runAsNonRoot unless the pod sets runAsUser.
var numericUser = regexp.MustCompile(`^([0-9]+)(:[0-9]+)?$`)

// The rules a Dockerfile change could break without the build failing.
func TestDockerfileRules(t *testing.T) {
	root := repoRoot(t)
	stages, ignore := readDockerfile(t, root)
	final := stages[len(stages)-1]

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"final stage has no shell", func(t *testing.T) {
			assert.Regexp(t, `^(gcr\.io/distroless/static(-debian[0-9]+)?(:[a-z0-9.-]+)?|scratch)$`, final.image)
			assert.Empty(t, stageSteps(final, "RUN"), "RUN needs a shell, and the final image has none")
		}},
		{"final stage runs as a numeric non-root user", func(t *testing.T) {
			users := stageSteps(final, "USER")
			require.NotEmpty(t, users, "no USER in the final stage: the image would run as root")
			user := users[len(users)-1].args[0]
			m := numericUser.FindStringSubmatch(user)
			require.NotNil(t, m, "USER %q is not numeric", user)
			assert.NotEqual(t, "0", m[1], "USER %q is root", user)
		}},
		{"ENTRYPOINT and CMD in exec form", func(t *testing.T) {
			eps := stageSteps(final, "ENTRYPOINT")
			require.Len(t, eps, 1)
			for _, in := range append(eps, stageSteps(final, "CMD")...) {
				assert.True(t, in.exec, "line %d: %s %s is shell form: it needs /bin/sh, and signals would go to the shell", in.line, in.cmd, in.rest)
			}
		}},
		{"final stage exposes the app port", func(t *testing.T) {
			var ports []string
			for _, in := range stageSteps(final, "EXPOSE") {
				ports = append(ports, in.args...)
			}
			assert.Contains(t, ports, "8080")
		}},
		{"--from names an earlier stage", func(t *testing.T) {
			for i, st := range stages {
				for _, in := range append(stageSteps(st, "COPY"), stageSteps(st, "ADD")...) {
					from, ok := in.flags["from"]
					if !ok {
						continue
					}
					found := false
					for _, earlier := range stages[:i] {
						found = found || earlier.name == from
					}
					assert.True(t, found, "line %d: --from=%s is not an earlier stage", in.line, from)
				}
			}
		}},
		{"context sources exist and are not ignored", func(t *testing.T) {
			n := 0
			for _, st := range stages {
				for _, in := range append(stageSteps(st, "COPY"), stageSteps(st, "ADD")...) {
					if _, ok := in.flags["from"]; ok {
						continue
					}
					require.GreaterOrEqual(t, len(in.args), 2, "line %d", in.line)
					for _, src := range in.args[:len(in.args)-1] {
						n++
						_, err := os.Stat(filepath.Join(root, filepath.FromSlash(src)))
						assert.NoError(t, err, "line %d: %s", in.line, src)
						assert.False(t, ignore.excluded(src), "line %d: %s is excluded by .dockerignore", in.line, src)
					}
				}
			}
			assert.NotZero(t, n, "no COPY from the build context")
		}},
		{"Go build is static", func(t *testing.T) {
			var builds []string
			for _, st := range stages {
				for _, in := range stageSteps(st, "RUN") {
					if strings.Contains(in.rest, "go build") {
						builds = append(builds, in.rest)
					}
				}
			}
			require.NotEmpty(t, builds, "no go build in the Dockerfile")
			for _, b := range builds {
				assert.Contains(t, strings.Fields(b), "CGO_ENABLED=0", "%s: cgo would link libc, which distroless/static lacks", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// The parser on the forms it must understand, so that the rules above do
// not pass because a line was misread.
func TestDockerfileParse(t *testing.T) {
	text := "# syntax=docker/dockerfile:1\nFROM golang:1 AS build\n" +
		"RUN CGO_ENABLED=0 go build \\\n  # a comment inside\n  -o /out/ ./x\n" +
		"FROM scratch\nCOPY --from=build --chown=1:1 /out/x /\nENTRYPOINT [\"/x\", \"-v\"]\nCMD /x\n"
	stages, err := parseDockerfile(text)
	require.NoError(t, err)
	require.Len(t, stages, 2)
	assert.Equal(t, "build", stages[0].name)
	assert.Equal(t, "1", stages[1].name)
	run := stages[0].steps[0]
	assert.Equal(t, 3, run.line)
	assert.Equal(t, "CGO_ENABLED=0 go build  -o /out/ ./x", run.rest)
	cp := stages[1].steps[0]
	assert.Equal(t, map[string]string{"from": "build", "chown": "1:1"}, cp.flags)
	assert.Equal(t, []string{"/out/x", "/"}, cp.args)
	ep := stages[1].steps[1]
	assert.True(t, ep.exec)
	assert.Equal(t, []string{"/x", "-v"}, ep.args)
	assert.False(t, stages[1].steps[2].exec)

	for _, bad := range []string{"RUN true", "FROM a\nRUN x \\", "FROM a\nENTRYPOINT [\"/x\""} {
		_, err := parseDockerfile(bad)
		assert.Error(t, err, "%q", bad)
	}

	words, err := shellWords(`CGO_ENABLED=0 go build -ldflags="-s -w" -o '/o ut/' ./x`)
	require.NoError(t, err)
	assert.Equal(t, []string{"CGO_ENABLED=0", "go", "build", "-ldflags=-s -w", "-o", "/o ut/", "./x"}, words)
	for _, bad := range []string{"a && b", "a | b", "a > f", "a; b", `a "b`, "echo $(x)"} {
		_, err := shellWords(bad)
		assert.Error(t, err, "%q", bad)
	}
}
