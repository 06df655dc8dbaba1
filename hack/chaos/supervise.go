package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Service is one of the pipeline's processes, restarted whenever it exits
// (as Kubernetes restarts a pod's container), with a back-off while it
// keeps exiting quickly. A service that is Once is done when it exits 0:
// the producer, having produced its count.
type Service struct {
	Name string
	Cmd  []string
	Env  []string
	Log  string // stdout and stderr of every run, appended
	Once bool

	running sync.WaitGroup // Start's Run

	mu       sync.Mutex
	proc     *os.Process
	done     bool
	starts   int
	ownExits []string // exits not by a signal: the last line of each
}

// Run runs the service until ctx is done (then stops it: SIGTERM, SIGKILL
// after 20 s) or, for a Once service, until it exits 0.
func (s *Service) Run(ctx context.Context, log *slog.Logger) error {
	out, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	backoff := time.Second
	for ctx.Err() == nil {
		s.mu.Lock()
		cmd := exec.Command(s.Cmd[0], s.Cmd[1:]...)
		s.mu.Unlock()
		cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), s.Env...), out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		s.mu.Lock()
		s.proc, s.starts = cmd.Process, s.starts+1
		s.mu.Unlock()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err = <-exited:
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process handles SIGTERM only once continued
			select {
			case err = <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				err = <-exited
			}
		}
		s.mu.Lock()
		s.proc = nil
		s.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		var exit *exec.ExitError
		switch {
		case err == nil && s.Once:
			s.mu.Lock()
			s.done = true
			s.mu.Unlock()
			log.Info("service done", "service", s.Name)
			return nil
		case errors.As(err, &exit) && exit.ExitCode() == -1:
			log.Debug("service killed", "service", s.Name, "signal", exit.String())
		default:
			line := lastLine(s.Log)
			s.mu.Lock()
			s.ownExits = append(s.ownExits, line)
			s.mu.Unlock()
			log.Info("service exited", "service", s.Name, "err", err, "last_line", line)
		}
		// Back off while it keeps failing at once (a fault still on).
		if time.Since(began) > 10*time.Second {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 8*time.Second)
	}
	return nil
}

// Start runs Run in the background; Wait waits for it to return.
func (s *Service) Start(ctx context.Context, log *slog.Logger) {
	s.running.Go(func() {
		if err := s.Run(ctx, log); err != nil {
			log.Error("service", "service", s.Name, "err", err)
		}
	})
}

// Wait waits for the Run that Start started.
func (s *Service) Wait() { s.running.Wait() }

// Restart stops the running process (SIGTERM: it finishes what it does, as
// a pod being replaced) and has it started again with args, waiting up to
// a minute for the old one to be gone (between two runs, the next one takes
// the args).
func (s *Service) Restart(args ...string) {
	s.mu.Lock()
	s.Cmd = append(s.Cmd[:1:1], args...)
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Signal(syscall.SIGCONT)
	_ = proc.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s.mu.Lock()
		gone := s.proc != proc
		s.mu.Unlock()
		if gone {
			return
		}
	}
	_ = proc.Kill()
}

// Args are the arguments it runs with now.
func (s *Service) Args() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Cmd[1:]...)
}

// Signal sends sig to the running process, if there is one.
func (s *Service) Signal(sig syscall.Signal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && s.proc.Signal(sig) == nil
}

// Done reports whether a Once service has finished.
func (s *Service) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Starts and OwnExits: how often it was started, and the last line of
// every exit that was not a signal's (the service stopping itself).
func (s *Service) Starts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.starts }

// OwnExits are the last log lines of the exits that were not a signal's.
func (s *Service) OwnExits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ownExits...)
}

// lastLine is the last non-empty line of the file (of its last 4 KiB).
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(buf)) {
		_, _ = f.Seek(fi.Size()-int64(len(buf)), 0)
	}
	n, _ := f.Read(buf)
	lines := bytes.Split(bytes.TrimSpace(buf[:n]), []byte("\n"))
	return string(lines[len(lines)-1])
}
