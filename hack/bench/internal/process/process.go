// Package process runs the bench's child processes — a service binary, a
// Kafka tool, the JVM of the Kafka Streams app, the bench itself in another
// mode — each with its output in a log file of the run directory, its peak
// memory watched and its CPU counted, so that what a measurement reports of
// a process is that process's own.
package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Runner starts the processes of one run and keeps those still running, so
// that an interrupted run can kill them.
type Runner struct {
	dir string

	mu       sync.Mutex
	logs     int
	children map[*Child]bool
}

// NewRunner is a runner writing its processes' logs into dir.
func NewRunner(dir string) *Runner {
	return &Runner{dir: dir, children: map[*Child]bool{}}
}

// Child is a process the bench runs. Its stdout and stderr go to a log file
// in the run directory; onLine (if set) sees every line of both as it comes.
type Child struct {
	Name    string
	Log     string    // the log file
	Started time.Time // just before the process started

	cmd    *exec.Cmd
	done   chan struct{}
	exited time.Time

	mu     sync.Mutex
	hwm    int64
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// Start starts path with args and the bench's environment plus env.
func (r *Runner) Start(name string, env []string, onLine func(stream, line string), path string, args ...string) (*Child, error) {
	c := &Child{Name: name, done: make(chan struct{})}
	c.Log = filepath.Join(r.dir, fmt.Sprintf("%02d-%s.log", r.nextLog(), name))
	f, err := os.Create(c.Log)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = io.MultiWriter(f, c.keep(&c.stdout, "stdout", onLine))
	c.cmd.Stderr = io.MultiWriter(f, c.keep(&c.stderr, "stderr", onLine))
	c.Started = time.Now()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	r.track(c)
	go c.watchMemory()
	go func() {
		_ = c.cmd.Wait() // the exit status is in ProcessState (ExitErr)
		c.exited = time.Now()
		f.Close()
		r.untrack(c)
		close(c.done)
	}()
	return c, nil
}

// keep is a writer that keeps each line of stream in buf and hands it to
// onLine.
func (c *Child) keep(buf *bytes.Buffer, stream string, onLine func(stream, line string)) io.Writer {
	return Lines(func(l string) {
		c.mu.Lock()
		buf.WriteString(l + "\n")
		c.mu.Unlock()
		if onLine != nil {
			onLine(stream, l)
		}
	})
}

func (r *Runner) nextLog() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs++
	return r.logs
}

func (r *Runner) track(c *Child) {
	r.mu.Lock()
	r.children[c] = true
	r.mu.Unlock()
}

func (r *Runner) untrack(c *Child) {
	r.mu.Lock()
	delete(r.children, c)
	r.mu.Unlock()
}

// KillAll kills the children still running (an interrupted run).
func (r *Runner) KillAll() {
	r.mu.Lock()
	cs := make([]*Child, 0, len(r.children))
	for c := range r.children {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, c := range cs {
		c.Kill()
	}
}

// Done is closed when the process has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited is when the process exited; read it once Done is closed.
func (c *Child) Exited() time.Time { return c.exited }

// Running reports whether the process has not exited yet.
func (c *Child) Running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Signal sends sig if the process still runs.
func (c *Child) Signal(sig syscall.Signal) {
	if c.Running() {
		_ = c.cmd.Process.Signal(sig) // it may have exited since
	}
}

// Kill kills the process and waits for its exit.
func (c *Child) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Wait waits for the exit, killing the process after timeout.
func (c *Child) Wait(timeout time.Duration) error {
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.Kill()
		return fmt.Errorf("%s did not exit within %s (log: %s)", c.Name, timeout, c.Log)
	}
	return nil
}

// Stop sends SIGTERM and waits up to timeout for the exit.
func (c *Child) Stop(timeout time.Duration) error {
	c.Signal(syscall.SIGTERM)
	return c.Wait(timeout)
}

// Follow waits for the exit, calling tick every `every` (0: never) with the
// time since the start, and kills the process after timeout or when ctx
// ends.
func (c *Child) Follow(ctx context.Context, every, timeout time.Duration, tick func(time.Duration)) error {
	var tc <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tc = t.C
	}
	deadline := time.After(timeout)
	for {
		select {
		case <-c.done:
			return nil
		case <-tc:
			tick(time.Since(c.Started))
		case <-deadline:
			c.Kill()
			return fmt.Errorf("%s still running after %s; killed (log: %s)", c.Name, timeout, c.Log)
		case <-ctx.Done():
			c.Kill()
			return ctx.Err()
		}
	}
}

// ExitErr is nil if the process exited 0.
func (c *Child) ExitErr() error {
	if st := c.cmd.ProcessState; st != nil && st.Success() {
		return nil
	}
	return fmt.Errorf("%s exited with %v; last lines of %s:\n%s", c.Name, c.cmd.ProcessState, c.Log, c.tail(15))
}

func (c *Child) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := strings.Split(strings.TrimRight(c.stderr.String()+c.stdout.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Stdout is what the process wrote to stdout so far.
func (c *Child) Stdout() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String()
}

// Stderr is what the process wrote to stderr so far.
func (c *Child) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// watchMemory polls the process's peak resident set size (VmHWM) until it
// exits. (wait4's ru_maxrss would be simpler but is not the process's own:
// Linux carries the forking parent's peak over into the child's at exec,
// and the parent here is this bench, which holds far more than a consumer.)
func (c *Child) watchMemory() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if _, hwm := Memory(c.cmd.Process.Pid); hwm > 0 {
			c.mu.Lock()
			c.hwm = max(c.hwm, hwm)
			c.mu.Unlock()
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

// RSS is the process's resident set size now, in bytes (0 once it exited).
func (c *Child) RSS() int64 {
	rss, _ := Memory(c.cmd.Process.Pid)
	return rss
}

// PeakRSS is the highest VmHWM seen of the process, in bytes: its peak
// resident set size, give or take its last 50 ms.
func (c *Child) PeakRSS() int64 {
	if c.Running() {
		if _, hwm := Memory(c.cmd.Process.Pid); hwm > 0 {
			c.mu.Lock()
			c.hwm = max(c.hwm, hwm)
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hwm
}

// CPU is the user+system CPU time of the exited process.
func (c *Child) CPU() time.Duration {
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// JSONResult waits for c, a bench subcommand (rawconsume, rawproduce), to
// end and decodes the JSON result it printed.
func JSONResult[T any](ctx context.Context, c *Child) (T, error) {
	var res T
	if err := c.Follow(ctx, 0, 10*time.Minute, nil); err != nil {
		return res, err
	}
	if err := c.ExitErr(); err != nil {
		return res, err
	}
	if err := json.Unmarshal([]byte(c.Stdout()), &res); err != nil {
		return res, fmt.Errorf("%s output: %w", c.Name, err)
	}
	return res, nil
}
