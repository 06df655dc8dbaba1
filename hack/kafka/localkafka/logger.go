package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeLogger hands kfake's warnings and errors to the broker's log. Without
// it kfake says nothing when it cannot persist a batch (a full disk): the
// producer sees UNKNOWN_SERVER_ERROR, and the reason is nowhere.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var to slog.Level
	switch level {
	case kfake.LogLevelError:
		to = slog.LevelError
	case kfake.LogLevelWarn:
		to = slog.LevelWarn
	default:
		return // requests and debug: too many for a run's log
	}
	l.log.Log(context.Background(), to, fmt.Sprintf(format, args...), "from", "kfake")
}
