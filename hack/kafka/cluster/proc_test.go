package cluster

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestProcState(t *testing.T) {
	tests := []struct {
		stat           string
		state          string
		alive, stopped bool
		bad            bool
	}{
		{stat: "4242 (java) S 1 4242 4242 0 -1", state: "S", alive: true},
		{stat: "4242 (java) R 1 4242", state: "R", alive: true},
		{stat: "4242 (java) T 1 4242", state: "T", alive: true, stopped: true},
		{stat: "4242 (java) t 1 4242", state: "t", alive: true, stopped: true},
		{stat: "4242 (java) Z 1 4242", state: "Z"},
		{stat: "4242 (java) X 1 4242", state: "X"},
		// A command name may hold spaces and parentheses.
		{stat: "7 (a) Z (b) S 1 7", state: "S", alive: true},
		{stat: "no command field", bad: true},
		{stat: "7 (java)", bad: true},
	}
	for _, tt := range tests {
		state, err := procState(tt.stat)
		if (err != nil) != tt.bad {
			t.Errorf("procState(%q) err %v, want error %v", tt.stat, err, tt.bad)
			continue
		}
		if tt.bad {
			continue
		}
		alive, stopped := liveness(state)
		if state != tt.state || alive != tt.alive || stopped != tt.stopped {
			t.Errorf("procState(%q) = %q alive=%v stopped=%v, want %q alive=%v stopped=%v",
				tt.stat, state, alive, stopped, tt.state, tt.alive, tt.stopped)
		}
	}
}

// A process that exited but is not yet reaped still answers kill -0; it
// must count as dead.
func TestZombieIsDead(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait() // reaped at the end, on purpose: until then it is a zombie
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		alive, _ := pidState(pid)
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d (exited, unreaped) still counts as alive after 10s", pid)
		}
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the zombie is already gone (%v): the test proved nothing", err)
	}
}
