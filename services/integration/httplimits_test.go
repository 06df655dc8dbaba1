package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Idle keep-alive connections, many more than HTTP_MAX_CONNECTIONS, cannot
// lock a service's HTTP server: those over the cap wait in the kernel's
// queue and hold no descriptor of the service, the server closes each once
// it has been idle for HTTP_IDLE_TIMEOUT, and a probe of /healthz sent
// behind all of them is answered once they have had their turn.
func TestIdleConnectionsNeitherExhaustDescriptorsNorLockOutHealth(t *testing.T) {
	const limit, flood, idle = 10, 50, time.Second
	p := start(t, "dashboard", []string{"TOPIC=" + newTopic(t),
		"HTTP_MAX_CONNECTIONS=" + strconv.Itoa(limit), "HTTP_IDLE_TIMEOUT=" + idle.String()})
	base := "http://" + p.httpAddr
	waitForStatus(t, base+"/readyz", http.StatusOK, 30*time.Second) // the first refresh done: its Kafka client connected
	before := openFDs(t, p.cmd.Process.Pid)

	// Each flood connection sends one request and then nothing: a kept-alive
	// connection left idle.
	var wg sync.WaitGroup
	idled := make(chan time.Duration, flood)
	for i := range flood {
		conn, err := net.Dial("tcp", p.httpAddr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			// Answered in its turn, then closed by the server once idle.
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Errorf("connection %d: no answer: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answered := time.Now()
			if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
				t.Errorf("connection %d: %v, want the server to close it (EOF)", i, err)
				return
			}
			idled <- time.Since(answered)
		})
	}

	// A probe behind the whole flood: answered once the flood's connections
	// have been served and closed, a cap's worth per idle timeout, while the
	// service's descriptors stay within the cap.
	start := time.Now()
	probe := make(chan error, 1)
	go func() {
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		probe <- err
	}()
	allClosed := make(chan struct{})
	go func() { wg.Wait(); close(allClosed) }()
	// Descriptors are counted until the probe is answered and every flood
	// connection is closed: without a cap they would all be open at once.
	most := before
	var probeErr error
	var probeTook time.Duration
	for answered, closed := false, false; !answered || !closed; {
		select {
		case probeErr = <-probe:
			probeTook, answered = time.Since(start), true
			probe = nil
		case <-allClosed:
			closed, allClosed = true, nil
		case <-time.After(20 * time.Millisecond):
			most = max(most, openFDs(t, p.cmd.Process.Pid))
		}
	}
	close(idled)

	if probeErr != nil {
		t.Fatalf("/healthz behind %d idle connections: %v", flood, probeErr)
	}
	// flood/limit turns of one idle timeout each; a margin for a busy machine.
	if bound := time.Duration(flood/limit+1)*idle + 10*time.Second; probeTook > bound {
		t.Errorf("/healthz answered after %s behind %d idle connections, want within %s", probeTook, flood, bound)
	}
	// The cap's connections, and a few for the Kafka clients (the facts',
	// the snapshot follower's).
	if slack := 6; most > before+limit+slack {
		t.Errorf("open descriptors went from %d to %d with %d idle connections: want at most %d more (HTTP_MAX_CONNECTIONS) and %d of slack",
			before, most, flood, limit, slack)
	}
	closed := 0
	for d := range idled {
		closed++
		if d < idle/2 {
			t.Errorf("an idle connection was closed after %s, before HTTP_IDLE_TIMEOUT %s", d, idle)
		}
	}
	if closed != flood {
		t.Errorf("%d of %d idle connections closed by the server", closed, flood)
	}
	t.Logf("descriptors: %d before, at most %d with %d idle connections over a cap of %d; /healthz answered after %s",
		before, most, flood, limit, probeTook.Round(time.Millisecond))
}

// openFDs counts the descriptors the process pid has open.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// waitForStatus waits until GET url answers code.
func waitForStatus(t *testing.T, url string, code int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v, %v; want %d within %s", url, resp, err, code, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
