package cluster

import (
	"fmt"
	"os"
	"strings"
)

// procState is the state letter of /proc/<pid>/stat ("R", "S", "T", "Z", ...).
// The command name (field 2) is in parentheses and may itself hold spaces
// and parentheses, so the state is the first field after the LAST ')'.
func procState(stat string) (string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", fmt.Errorf("no command field in %q", stat)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) == 0 {
		return "", fmt.Errorf("no state field in %q", stat)
	}
	return fields[0], nil
}

// liveness classifies a state: a zombie ("Z") or dead ("X") process is gone
// even though its pid still answers kill -0 (a SIGKILLed broker stays a
// zombie until reaped, see kafka.sh's pid_alive); a stopped one ("T", or "t"
// under a tracer) is alive but serves nothing.
func liveness(state string) (alive, stopped bool) {
	switch state {
	case "Z", "X", "x":
		return false, false
	case "T", "t":
		return true, true
	default:
		return true, false
	}
}

// pidState reads the state of pid; a missing /proc entry is a dead process.
func pidState(pid int) (alive, stopped bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false, false
	}
	state, err := procState(string(data))
	if err != nil {
		return false, false
	}
	return liveness(state)
}
