package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// stopGrace is how long a SIGTERM'd node gets for a clean shutdown before
// SIGKILL (kafka.sh stop's bound).
const stopGrace = 30 * time.Second

// Node is one KRaft node (broker and controller) of a Cluster.
type Node struct {
	ID int32

	c           *Cluster
	dir         string
	client      *toxiproxy.Proxy
	interBroker *toxiproxy.Proxy

	mu   sync.Mutex
	proc *process // nil until started
}

// process is one run of the node's JVM; done is closed once it is reaped.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's, valid after done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Dir is the node's directory: server.properties, data/, kafka.log, pid.
func (n *Node) Dir() string { return n.dir }

// LogPath is the node's kafka.log: the JVM's stdout and stderr, every run appended.
func (n *Node) LogPath() string { return filepath.Join(n.dir, "kafka.log") }

// Client is the proxy every client connection to this broker goes through
// ("kafka-<id>"): bootstrap and per-broker, since the broker advertises it.
func (n *Node) Client() *toxiproxy.Proxy { return n.client }

// InterBroker is the proxy the other brokers' connections to this one go
// through ("kafka-<id>-internal"): replica fetches from it when it leads.
func (n *Node) InterBroker() *toxiproxy.Proxy { return n.interBroker }

// Pid is the process id of the node's current (or last) JVM, 0 if never started.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Running reports whether the JVM is alive and not stopped: a zombie (killed,
// not yet reaped) is dead and a SIGSTOPped one is not running.
func (n *Node) Running() bool {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil || p.exited() {
		return false
	}
	alive, stopped := pidState(p.cmd.Process.Pid)
	return alive && !stopped
}

// current is the live process, or an error saying there is none.
func (n *Node) current() (*process, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return nil, fmt.Errorf("node %d is not running", n.ID)
	}
	return n.proc, nil
}

// Kill SIGKILLs the node and returns once the process is reaped, so Running
// is false at once. Killing a dead node is not an error: it is dead.
func (n *Node) Kill() error {
	p, err := n.current()
	if err != nil {
		return nil //nolint:nilerr // already dead is what Kill wants
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("node %d: SIGKILL: %w", n.ID, err)
	}
	<-p.done // SIGKILL cannot be caught or blocked, even when stopped
	return nil
}

// Pause SIGSTOPs the node and returns once the kernel shows it stopped.
func (n *Node) Pause() error { return n.signalUntil(syscall.SIGSTOP, true) }

// Resume SIGCONTs the node and returns once it is no longer stopped.
func (n *Node) Resume() error { return n.signalUntil(syscall.SIGCONT, false) }

func (n *Node) signalUntil(sig syscall.Signal, stopped bool) error {
	p, err := n.current()
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("node %d: %v: %w", n.ID, sig, err)
	}
	// The state changes once every thread has taken the signal; that is
	// quick, but not done when kill(2) returns.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		alive, s := pidState(p.cmd.Process.Pid)
		if !alive || p.exited() {
			return fmt.Errorf("node %d died on %v", n.ID, sig)
		}
		if s == stopped {
			return nil
		}
	}
	return fmt.Errorf("node %d: still stopped=%v 10s after %v", n.ID, !stopped, sig)
}

// Restart starts the node again on its own data dir (stopping it first,
// with SIGTERM, if it is still alive, paused included) and waits until it
// serves: its own metadata lists it as an unfenced broker.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.stop(); err != nil {
		return err
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.c.waitServing(ctx, []*Node{n}, []int32{n.ID})
}

// stop ends the current process, if any: SIGCONT (a stopped JVM would never
// act on SIGTERM), SIGTERM for a clean shutdown, SIGKILL after stopGrace.
func (n *Node) stop() error {
	p, err := n.current()
	if err != nil {
		return nil //nolint:nilerr // nothing to stop
	}
	for _, sig := range []syscall.Signal{syscall.SIGCONT, syscall.SIGTERM} {
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("node %d: %v: %w", n.ID, sig, err)
		}
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	n.c.log.Warn("node did not stop on SIGTERM; sending SIGKILL", "node", n.ID, "grace", stopGrace)
	return n.Kill()
}

// start launches the JVM with kafka.sh's flags, its output appended to kafka.log.
func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		return fmt.Errorf("node %d is already running (pid %d)", n.ID, n.proc.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(n.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	o := n.c.opts
	args := append(strings.Fields(o.Heap),
		"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
		"-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+o.Log4j, "-Dkafka.log.level=WARN",
		"-cp", filepath.Join(o.Libs, "*"), "kafka.Kafka", filepath.Join(n.dir, "server.properties"))
	cmd := exec.Command(o.Java, args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches the CLI,
		// which shuts the nodes down in order, not every JVM at once.
		Setpgid: true,
		// A test binary killed by its timeout must not leave JVMs behind.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("node %d: start %s: %w", n.ID, o.Java, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	n.proc = p
	// Reap it, so a killed node never lingers as a zombie.
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	n.c.log.Info("node started", "node", n.ID, "pid", cmd.Process.Pid, "log", n.LogPath())
	return os.WriteFile(filepath.Join(n.dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
}

// exitErr describes a node that exited while it was waited for, with the
// end of its log, which says why.
func (n *Node) exitErr() error {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil || !p.exited() {
		return nil
	}
	cause := p.err
	if cause == nil {
		cause = errors.New("exit status 0")
	}
	return fmt.Errorf("node %d exited (%w); end of %s:\n%s", n.ID, cause, n.LogPath(), tail(n.LogPath(), 20))
}

func tail(path string, lines int) string {
	data, _ := os.ReadFile(path)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
