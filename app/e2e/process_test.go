//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a child process in its own process group. Its output is kept and
// printed when the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// procSpec is what to run.
type procSpec struct {
	name   string    // for logs: "daprd enviromon-a"
	bin    string    // program
	args   []string  // arguments
	dir    string    // working directory
	env    []string  // full environment
	stdout io.Writer // also gets the standard output, when set
	stdin  *os.File  // nil: /dev/null
}

// startProc starts spec. When the test ends the process group gets SIGTERM,
// then SIGKILL after 10 s; if the test failed, the output follows.
func startProc(t testing.TB, spec procSpec) *proc {
	t.Helper()
	p := &proc{name: spec.name, out: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(spec.bin, spec.args...)
	p.cmd.Dir, p.cmd.Env = spec.dir, spec.env
	if spec.stdin != nil {
		p.cmd.Stdin = spec.stdin
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if spec.stdout != nil {
		p.cmd.Stdout = io.MultiWriter(p.out, spec.stdout)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", spec.name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	// Cleanups run last-in first-out: stop, then print what it wrote.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- %s (%s) output, last %d KB -----\n%s", p.name, p.state(), tailKB, p.out.tail(tailKB<<10))
		}
	})
	t.Cleanup(p.stop)
	return p
}

// tailKB is how much of a process's output a failure prints.
const tailKB = 24

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) state() string {
	if p.exited() {
		return fmt.Sprintf("exited: %v", p.err)
	}
	return "running"
}

// stop ends the process group: SIGTERM, then SIGKILL.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitFor polls ready every 50 ms until it succeeds, p exits, or timeout.
func (p *proc) waitFor(what string, timeout time.Duration, ready func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if p.exited() {
			return fmt.Errorf("%s: %s exited (%v) before %s", p.name, p.name, p.err, what)
		}
		try, cancelTry := context.WithTimeout(ctx, 2*time.Second)
		err := ready(try)
		cancelTry()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no %s after %s: %w", p.name, what, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logged succeeds once the output holds a line containing every part.
func (p *proc) logged(parts ...string) func(context.Context) error {
	return func(context.Context) error {
		for line := range strings.Lines(p.out.String()) {
			if containsAll(line, parts) {
				return nil
			}
		}
		return fmt.Errorf("no line with %q yet", parts)
	}
}

func containsAll(s string, parts []string) bool {
	for _, part := range parts {
		if !strings.Contains(s, part) {
			return false
		}
	}
	return true
}

// childEnv is this process's environment without the settings that would
// change what a child does (Dapr tokens and addresses, the app's and the
// services' own variables), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "DAPR_"), strings.HasPrefix(name, "APP_"),
			strings.HasPrefix(name, "ENVIROMON_"), strings.HasPrefix(name, "SIGNALR_"),
			strings.HasPrefix(name, "AZURITE_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// logBuffer keeps a process's output, safe for the process writing and the
// test reading. Past maxLog bytes the oldest half is dropped.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const maxLog = 8 << 20

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > maxLog {
		keep := l.b.Bytes()[l.b.Len()/2:]
		l.b = *bytes.NewBuffer(append([]byte("[...]\n"), keep...))
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = "[...]" + s[len(s)-n:]
	}
	return s
}

// lineWriter calls fn with every complete line written to it.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	fn      func(line []byte)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.fn(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
}
