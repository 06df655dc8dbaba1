package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the bench runs: a service binary, a Kafka tool or the
// bench itself in another mode. Its stdout and stderr go to a log file in
// the run directory; onLine (if set) sees every line of both as it comes.
type child struct {
	name    string
	cmd     *exec.Cmd
	log     string
	started time.Time
	done    chan struct{}
	exited  time.Time

	mu     sync.Mutex
	hwm    int64
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// spawn starts path with args and the bench's environment plus env.
func (b *bench) spawn(name string, env []string, onLine func(stream, line string), path string, args ...string) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.log = filepath.Join(b.runDir, fmt.Sprintf("%02d-%s.log", b.nextLog(), name))
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = io.MultiWriter(f, &lineWriter{fn: func(l string) {
		c.mu.Lock()
		c.stdout.WriteString(l + "\n")
		c.mu.Unlock()
		if onLine != nil {
			onLine("stdout", l)
		}
	}})
	c.cmd.Stderr = io.MultiWriter(f, &lineWriter{fn: func(l string) {
		c.mu.Lock()
		c.stderr.WriteString(l + "\n")
		c.mu.Unlock()
		if onLine != nil {
			onLine("stderr", l)
		}
	}})
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	b.track(c)
	go c.watchMemory()
	go func() {
		_ = c.cmd.Wait() // the exit status is in ProcessState (exitErr)
		c.exited = time.Now()
		f.Close()
		b.untrack(c)
		close(c.done)
	}()
	return c, nil
}

func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

func (c *child) signal(sig syscall.Signal) {
	if c.running() {
		_ = c.cmd.Process.Signal(sig) // it may have exited since
	}
}

// wait waits for the exit, killing the process after timeout.
func (c *child) wait(timeout time.Duration) error {
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not exit within %s (log: %s)", c.name, timeout, c.log)
	}
	return nil
}

// stop sends SIGTERM and waits up to timeout for the exit.
func (c *child) stop(timeout time.Duration) error {
	c.signal(syscall.SIGTERM)
	return c.wait(timeout)
}

// exitErr is nil if the process exited 0.
func (c *child) exitErr() error {
	if st := c.cmd.ProcessState; st != nil && st.Success() {
		return nil
	}
	return fmt.Errorf("%s exited with %v; last lines of %s:\n%s", c.name, c.cmd.ProcessState, c.log, c.tail(15))
}

func (c *child) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := strings.Split(strings.TrimRight(c.stderr.String()+c.stdout.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (c *child) stdoutText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String()
}

func (c *child) stderrText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// watchMemory polls the process's peak resident set size (VmHWM) until it
// exits. (wait4's ru_maxrss would be simpler but is not the process's own:
// Linux carries the forking parent's peak over into the child's at exec,
// and the parent here is this bench, which holds far more than a consumer.)
func (c *child) watchMemory() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if _, hwm := memory(c.cmd.Process.Pid); hwm > 0 {
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

// peakRSS is the highest VmHWM seen of the process, in bytes: its peak
// resident set size, give or take its last 50 ms.
func (c *child) peakRSS() int64 {
	if c.running() {
		if _, hwm := memory(c.cmd.Process.Pid); hwm > 0 {
			c.mu.Lock()
			c.hwm = max(c.hwm, hwm)
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hwm
}

// cpu is the user+system CPU time of the exited process.
func (c *child) cpu() time.Duration {
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

// memory reads VmRSS and VmHWM (peak) of a running process, in bytes.
func memory(pid int) (rss, hwm int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			hwm = n * 1024
		}
	}
	return rss, hwm
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runQuiet runs a command to completion and returns its stdout.
func runQuiet(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// scanLines calls fn for each line of s.
func scanLines(s string, fn func(string)) {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// output waits for c, a bench subcommand (rawconsume, rawproduce), to end
// and decodes the JSON result it printed.
func output[T any](ctx context.Context, b *bench, c *child) (T, error) {
	var res T
	if err := b.follow(ctx, c, 0, 10*time.Minute, nil); err != nil {
		return res, err
	}
	if err := c.exitErr(); err != nil {
		return res, err
	}
	if err := json.Unmarshal([]byte(c.stdoutText()), &res); err != nil {
		return res, fmt.Errorf("%s output: %w", c.name, err)
	}
	return res, nil
}
