// Package service is the process every service's main runs: its
// configuration loaded, its work run until it is done or SIGTERM or SIGINT
// stops it, and the exit code that says which way it ended, a failure as one
// line on stderr.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// The exit codes of every service: what a supervisor (Kubernetes, make
// run, the tests) tells apart.
const (
	ExitOK        = 0 // done, or stopped by SIGTERM or SIGINT
	ExitFailed    = 1 // failed while running
	ExitBadConfig = 2 // a setting that cannot work: nothing was started
)

// Main is a service's main. It loads the configuration with load (from the
// command line's arguments and the environment): an error is
// "<name>: <error>" on stderr, naming the variable as load's errors do, and
// ExitBadConfig. Then it runs run, its ctx done on SIGTERM or SIGINT. An
// error is "<name>: <explain(cfg, error)>" and ExitFailed; Main returns (exit
// 0) once run returns nil, or a cancellation: the stop, from wherever run
// waited (the broker, a lock, a retry).
func Main[C any](name string, load func(args []string) (C, error), run func(ctx context.Context, cfg C) error, explain func(C, error) error) {
	cfg, err := load(os.Args[1:])
	if err != nil {
		Exit(name, ExitBadConfig, err)
	}
	ctx, stop := WithStopSignals(context.Background())
	err = run(ctx, cfg)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		Exit(name, ExitFailed, explain(cfg, err))
	}
}

// Exit ends the process with code, err first as one line "<name>: <err>" on
// stderr unless it is nil.
func Exit(name string, code int, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(code)
}

// WithStopSignals returns a copy of parent that is done on SIGTERM (what
// Kubernetes sends) or SIGINT (Ctrl-C), and the function that stops
// listening for them. A second signal is caught as well: the service still
// finishes its stop.
func WithStopSignals(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
}
