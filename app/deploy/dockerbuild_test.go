package deploy

import (
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// There is no Docker engine here, so dockerBuild replays the Dockerfile on
// the local disk: each stage gets a folder standing for its root
// filesystem, COPY copies what Docker would send (the context minus
// .dockerignore), and the RUN steps run the same command lines with the
// local toolchain. A COPY of a missing or ignored file, a go build that
// needs a file the Dockerfile does not copy, or a final image without its
// binaries fails here as it would in `docker build`.
type dockerBuild struct {
	t       *testing.T
	context string
	ignore  dockerignore
	roots   map[string]string // stage name → its root folder
	origin  map[string]string // copied file → its source, for npm ci
	args    map[string]string // ARG values the RUN lines may expand
	// missing holds the stages that could not be replayed for want of a
	// tool, and why; what they would have produced is checked only where
	// the tool is (testenv.Missing: skipped locally, failed under CI).
	missing map[string]missingTool
}

type missingTool struct{ what, how string }

// need skips or fails t when stage could not be replayed.
func (b *dockerBuild) need(t *testing.T, stage string) {
	t.Helper()
	if m, ok := b.missing[stage]; ok {
		testenv.Missing(t, m.what, m.how)
	}
}

// stageState is where a stage's instructions act.
type stageState struct {
	root, workdir string
	env           []string
}

func (b *dockerBuild) host(st *stageState, p string) string {
	if !path.IsAbs(p) {
		p = path.Join(st.workdir, p)
	}
	return filepath.Join(st.root, filepath.FromSlash(p))
}

func (b *dockerBuild) run(stages []dfStage) {
	for _, s := range stages {
		st := &stageState{root: filepath.Join(b.t.TempDir(), "root"), workdir: "/"}
		require.NoError(b.t, os.MkdirAll(st.root, 0o755))
		b.roots[s.name] = st.root
		for _, in := range s.steps {
			if _, ok := b.missing[s.name]; ok {
				break
			}
			switch in.cmd {
			case "WORKDIR":
				st.workdir = path.Join(st.workdir, in.args[0])
				require.NoError(b.t, os.MkdirAll(b.host(st, "."), 0o755))
			case "COPY", "ADD":
				b.copy(st, in)
			case "RUN":
				if m := b.runStep(st, in); m != nil {
					b.missing[s.name] = *m
				}
			case "ENV":
				for _, kv := range in.args {
					require.Contains(b.t, kv, "=", "line %d: ENV %s: use the KEY=value form", in.line, in.rest)
					st.env = append(st.env, kv)
				}
			case "ARG":
				name, value, _ := strings.Cut(in.args[0], "=")
				if _, ok := b.args[name]; !ok {
					b.args[name] = value
				}
			}
		}
	}
}

// copy does COPY: sources from the context (minus .dockerignore) or from an
// earlier stage's root; a folder's content goes into the destination.
func (b *dockerBuild) copy(st *stageState, in dfInstruction) {
	t := b.t
	require.GreaterOrEqual(t, len(in.args), 2, "line %d", in.line)
	srcs, dst := in.args[:len(in.args)-1], in.args[len(in.args)-1]
	from, fromStage := in.flags["from"]
	toDir := strings.HasSuffix(dst, "/") || len(srcs) > 1
	for _, src := range srcs {
		var hostSrc string
		if fromStage {
			root, ok := b.roots[from]
			require.True(t, ok, "line %d: no stage %q before", in.line, from)
			if _, ok := b.missing[from]; ok {
				continue
			}
			hostSrc = filepath.Join(root, filepath.FromSlash(path.Clean("/"+src)))
		} else {
			require.False(t, b.ignore.excluded(src), "line %d: %s is excluded by .dockerignore", in.line, src)
			hostSrc = filepath.Join(b.context, filepath.FromSlash(src))
		}
		fi, err := os.Stat(hostSrc)
		require.NoError(t, err, "line %d: COPY source %s", in.line, src)
		target := b.host(st, dst)
		if !fi.IsDir() {
			if toDir {
				target = filepath.Join(target, filepath.Base(hostSrc))
			}
			b.copyFile(hostSrc, target, fi.Mode())
			continue
		}
		err = filepath.WalkDir(hostSrc, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(hostSrc, p)
			if !fromStage {
				ctxRel, _ := filepath.Rel(b.context, p)
				if b.ignore.excluded(filepath.ToSlash(ctxRel)) {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(target, rel), 0o755)
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			b.copyFile(p, filepath.Join(target, rel), info.Mode())
			return nil
		})
		require.NoError(t, err, "line %d: COPY %s", in.line, src)
	}
}

func (b *dockerBuild) copyFile(src, dst string, mode fs.FileMode) {
	t := b.t
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode.Perm()|0o200)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	b.origin[dst] = src
}

// envAssign is a NAME=value word before a command.
var envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// runStep runs the RUN commands this Dockerfile uses, one command per RUN
// (no &&, pipes or redirections: the test would not know what they do).
// It returns the tool it lacks, if any.
func (b *dockerBuild) runStep(st *stageState, in dfInstruction) *missingTool {
	t := b.t
	words, err := shellWords(os.Expand(in.rest, func(name string) string {
		v, ok := b.args[name]
		assert.True(t, ok, "line %d: $%s is not an ARG", in.line, name)
		return v
	}))
	require.NoError(t, err, "line %d: RUN %s", in.line, in.rest)
	var env []string
	for len(words) > 0 && envAssign.MatchString(words[0]) {
		env, words = append(env, words[0]), words[1:]
	}
	require.NotEmpty(t, words, "line %d: RUN without a command", in.line)
	dir := b.host(st, ".")
	switch strings.Join(words[:min(2, len(words))], " ") {
	case "npm ci":
		// `make dashboard` runs npm ci on the same package-lock.json; its
		// node_modules, next to the package.json this stage copied, stands
		// in for this step's download.
		pkg, ok := b.origin[filepath.Join(dir, "package.json")]
		require.True(t, ok, "line %d: npm ci without a copied package.json", in.line)
		modules := filepath.Join(filepath.Dir(pkg), "node_modules")
		if _, err := os.Stat(modules); err != nil {
			return &missingTool{modules, "make dashboard"}
		}
		require.NoError(t, os.Symlink(modules, filepath.Join(dir, "node_modules")))
	case "go mod":
		// go mod download only fills the module cache, which the local
		// toolchain has (or fetches during go build).
		require.Equal(t, []string{"go", "mod", "download"}, words, "line %d", in.line)
	case "node build.mjs":
		if _, err := exec.LookPath("node"); err != nil {
			return &missingTool{"node", "apt-get install nodejs"}
		}
		b.exec(in, dir, append(st.env, env...), words)
	case "go build":
		for i, w := range words {
			if w == "-o" && i+1 < len(words) {
				out := b.host(st, words[i+1])
				if strings.HasSuffix(words[i+1], "/") {
					out += string(filepath.Separator)
				}
				words[i+1] = out
			}
		}
		// Build for this machine, whatever the line says, so the binaries
		// can be inspected here.
		env = append(env, "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "GOWORK=off")
		b.exec(in, dir, append(st.env, env...), words)
	default:
		t.Fatalf("line %d: RUN %s: the test does not know this command; teach dockerbuild_test.go", in.line, in.rest)
	}
	return nil
}

func (b *dockerBuild) exec(in dfInstruction, dir string, env, words []string) {
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(b.t, err, "line %d: RUN %s\n%s", in.line, in.rest, out)
}

// producer is the stage the final stage's COPY with the longest matching
// destination takes file from; "" for the build context.
func producer(final dfStage, file string) string {
	best, from := "", ""
	for _, in := range stageSteps(final, "COPY") {
		dst := in.args[len(in.args)-1]
		if strings.HasPrefix(file, dst) && len(dst) > len(best) {
			best, from = dst, in.flags["from"]
		}
	}
	return from
}

// The image the Dockerfile makes, replayed locally: the files the
// Deployment and the app expect are where they look for them.
func TestDockerfileBuild(t *testing.T) {
	root := repoRoot(t)
	stages, ignore := readDockerfile(t, root)
	b := &dockerBuild{t: t, context: root, ignore: ignore, roots: map[string]string{}, origin: map[string]string{},
		args: map[string]string{}, missing: map[string]missingTool{}}
	b.run(stages)
	final := stages[len(stages)-1]
	image := b.roots[final.name]
	entry := stageSteps(final, "ENTRYPOINT")
	require.Len(t, entry, 1)

	// The entry point, and the binaries the manifests run (deploy/base and
	// deploy/overlays/local).
	bins := []string{entry[0].args[0]}
	for _, bin := range []string{"/enviromon", "/devicesim", "/signalr-local"} {
		if bin != bins[0] {
			bins = append(bins, bin)
		}
	}
	for _, bin := range bins {
		t.Run("binary "+bin, func(t *testing.T) {
			b.need(t, producer(final, bin))
			p := filepath.Join(image, filepath.FromSlash(bin))
			fi, err := os.Stat(p)
			require.NoError(t, err)
			assert.NotZero(t, fi.Mode().Perm()&0o111, "not executable")
			if runtime.GOOS != "linux" {
				return
			}
			f, err := elf.Open(p)
			require.NoError(t, err)
			defer f.Close()
			for _, prog := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, prog.Type, "dynamically linked: distroless/static has no loader")
			}
		})
	}

	t.Run("dashboard", func(t *testing.T) {
		b.need(t, producer(final, "/dashboard/index.html"))
		dash := filepath.Join(image, "dashboard")
		index, err := os.ReadFile(filepath.Join(dash, "index.html"))
		require.NoError(t, err)
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(index), -1)
		require.NotEmpty(t, refs)
		for _, ref := range refs {
			if strings.Contains(ref[1], ":") {
				continue // data: and absolute URLs
			}
			assert.FileExists(t, filepath.Join(dash, filepath.FromSlash(ref[1])), "index.html loads %s", ref[1])
		}
		modules, err := filepath.Glob(filepath.Join(root, "dashboard", "js", "*.js"))
		require.NoError(t, err)
		for _, m := range modules {
			assert.FileExists(t, filepath.Join(dash, "js", filepath.Base(m)))
		}
		assert.NoDirExists(t, filepath.Join(dash, "node_modules"))
		assert.NoDirExists(t, filepath.Join(dash, "test"))
	})

	t.Run("embedded components", func(t *testing.T) {
		want, err := filepath.Glob(filepath.Join(root, "components", "embedded", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, want)
		for _, f := range want {
			assert.FileExists(t, filepath.Join(image, "components", "embedded", filepath.Base(f)))
		}
	})
}
