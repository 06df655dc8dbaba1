package service

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// standInEnv makes the test binary the stand-in service, which runs Main.
const standInEnv = "SERVICE_TEST_STAND_IN"

func TestMain(m *testing.M) {
	if os.Getenv(standInEnv) != "" {
		Main("svc", loadStandIn, runStandIn, func(_ standIn, err error) error { return fmt.Errorf("%w (explained)", err) })
		fmt.Println("returned") // as a service's main returns: exit 0
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// standIn is the stand-in service's configuration: what its run does, its
// one argument.
type standIn struct{ then string }

var standIns = map[string]func(ctx context.Context) error{
	"done":     func(context.Context) error { return nil },
	"fail":     func(context.Context) error { return errors.New("the disk is full") },
	"canceled": func(context.Context) error { return fmt.Errorf("a lock: %w", context.Canceled) },
	// The rest run until stopped, and then:
	"stop":         func(ctx context.Context) error { return ctx.Err() },
	"stop-wrapped": func(ctx context.Context) error { return fmt.Errorf("kafka at b:9092: %w", ctx.Err()) },
	"stop-slowly":  func(context.Context) error { time.Sleep(500 * time.Millisecond); return nil },
	"fail-on-stop": func(context.Context) error { return errors.New("the last checkpoint failed") },
}

func loadStandIn(args []string) (standIn, error) {
	if len(args) != 1 || standIns[args[0]] == nil {
		return standIn{}, fmt.Errorf("THEN is %q: want one of done, fail, stop…", args)
	}
	return standIn{args[0]}, nil
}

func runStandIn(ctx context.Context, cfg standIn) error {
	if strings.HasPrefix(cfg.then, "stop") || strings.HasSuffix(cfg.then, "-on-stop") {
		fmt.Println("running") // the test signals once it reads this
		<-ctx.Done()
	}
	return standIns[cfg.then](ctx)
}

// Main's exit codes and lines, in a process of its own: bad configuration
// 2, a failure 1 (explained), done or stopped by SIGTERM or SIGINT 0 — a
// second signal while stopping included, and whatever cancellation the
// stop made run return.
func TestMainExitsWithTheCodeOfHowItEnded(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		signals    []syscall.Signal // sent once it runs
		wantCode   int
		wantStderr string
	}{
		{"done", []string{"done"}, nil, ExitOK, ""},
		{"bad config", []string{"loud"}, nil, ExitBadConfig, `svc: THEN is ["loud"]: want one of done, fail, stop…` + "\n"},
		{"no config", nil, nil, ExitBadConfig, "svc: THEN is []: want one of done, fail, stop…\n"},
		{"failure", []string{"fail"}, nil, ExitFailed, "svc: the disk is full (explained)\n"},
		{"a cancellation", []string{"canceled"}, nil, ExitOK, ""},
		{"SIGTERM", []string{"stop"}, []syscall.Signal{syscall.SIGTERM}, ExitOK, ""},
		{"SIGINT", []string{"stop"}, []syscall.Signal{syscall.SIGINT}, ExitOK, ""},
		{"SIGTERM while connecting", []string{"stop-wrapped"}, []syscall.Signal{syscall.SIGTERM}, ExitOK, ""},
		{"a second signal while stopping", []string{"stop-slowly"}, []syscall.Signal{syscall.SIGTERM, syscall.SIGINT}, ExitOK, ""},
		{"a failure while stopping", []string{"fail-on-stop"}, []syscall.Signal{syscall.SIGTERM}, ExitFailed, "svc: the last checkpoint failed (explained)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), standInEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(stdout)
			if len(tt.signals) > 0 {
				if line, err := out.ReadString('\n'); line != "running\n" {
					t.Fatalf("the stand-in said %q, %v; want running", line, err)
				}
				for _, sig := range tt.signals {
					if err := cmd.Process.Signal(sig); err != nil {
						t.Fatal(err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			rest, _ := io.ReadAll(out)
			code := 0
			var exit *exec.ExitError
			if err := cmd.Wait(); errors.As(err, &exit) {
				code = exit.ExitCode() // -1: killed by a signal
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stderr.String() != tt.wantStderr {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr %q", code, stderr.String(), tt.wantCode, tt.wantStderr)
			}
			// Exit 0 is Main returning, as a main does; the others are Exit's.
			if returned := string(rest) == "returned\n"; returned != (tt.wantCode == ExitOK) {
				t.Errorf("stdout %q after it ran: Main returned %v, want %v", rest, returned, tt.wantCode == ExitOK)
			}
		})
	}
}
