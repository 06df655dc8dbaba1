package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/weatherstream/weather/services/common/snapshot"
)

// chromium is the browser the page is tested in: CHROMIUM, else the first
// of Debian's and Google's names on PATH. Without one the test is skipped,
// saying so — except in CI (CI set), where .ci/run installs it and its
// absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	names := []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, name := range names {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH: .ci/run installs Debian's chromium package; set CHROMIUM to another")
	}
	t.Skip("no Chromium installed (Debian: apt-get install chromium; or set CHROMIUM): the dashboard's browser test needs a real one")
	return ""
}

// browser is one headless Chromium tab that records every console error,
// uncaught exception and browser log error (a CSP violation, a failed
// request) of its pages.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) record(ev any) {
	var problem string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			problem = "console." + string(e.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		problem = fmt.Sprintf("uncaught: %s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
		if d.Exception != nil {
			problem += " " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			problem = "log (" + string(e.Entry.Source) + "): " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

func (b *browser) console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// eventually evaluates js in the page until ok accepts its value.
func eventually[T any](t *testing.T, b *browser, what, js string, ok func(T) bool) T {
	t.Helper()
	var v T
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, err = chromedp.Run(b.ctx, chromedp.Evaluate[T](js)); err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s: last %+v (err %v); console: %q", what, v, err, b.console())
		}
	}
}

// pageStation is a row of the page's stations table: its numbers exact, as
// the page gives them on hover (title), for a person who wants every digit.
type pageStation struct {
	Station, Count, Sum, Avg, Start, End string
}

const readStations = `Array.from(document.querySelectorAll('#stations tbody tr[data-station]')).map(tr => {
	const cell = c => tr.querySelector('.' + c) || {textContent: '', title: ''};
	return {Station: tr.dataset.station, Count: cell('count').title, Sum: cell('sum').title, Avg: cell('avg').title,
		Start: cell('start').textContent.trim(), End: cell('end').textContent.trim()};
})`

// pagePartition is a row of the page's partitions table.
type pagePartition struct {
	Partition, Class, Error string
}

const readPartitions = `Array.from(document.querySelectorAll('#partitions tbody tr[data-partition]')).map(tr => ({
	Partition: tr.dataset.partition, Class: tr.className,
	Error: (tr.querySelector('.error') || {textContent: ''}).textContent.trim()}))`

// shows reports whether the page's stations are exactly files' (sums
// compared as numbers: the page's hover text is the JSON's shortest form).
func shows(rows []pageStation, files map[string]fileStation) bool {
	if len(rows) != len(files) {
		return false
	}
	for _, r := range rows {
		f, ok := files[r.Station]
		sum, err1 := strconv.ParseFloat(r.Sum, 64)
		avg, err2 := strconv.ParseFloat(r.Avg, 64)
		if !ok || err1 != nil || err2 != nil || r.Count != strconv.FormatInt(f.Count, 10) || sum != f.Sum || avg != f.Avg || r.Start != f.Start || r.End != f.End {
			return false
		}
	}
	return true
}

// stationsOfFiles is every station of dir's four partition files.
func stationsOfFiles(t *testing.T, dir string) map[string]fileStation {
	t.Helper()
	all := map[string]fileStation{}
	for _, p := range allPartitions {
		f, err := readFile(t, partitionFile(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range f.Stations {
			all[name] = s
		}
	}
	return all
}

// screenshot writes the page at width×height to the test's artifacts
// (TEST_ARTIFACTS, default <repo>/artifacts/).
func screenshot(t *testing.T, b *browser, name string, width, height int64) {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a relayout and a redraw of the charts
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %dx%d: %s", width, height, path)
}

// The dashboard as a person uses it, in a real Chromium: opened on a
// running pipeline it shows every station with the numbers of the files
// (as their snapshots carry them); when a new snapshot comes the numbers
// follow without a reload; a snapshot that does not load shows as an error
// on its partition; nothing goes to the console (no script error, no CSP
// violation, no failed request). Screenshots at a laptop's and a phone's
// size are the test's artifacts.
func TestDashboardPageShowsTheSnapshotsLiveInABrowser(t *testing.T) {
	b := newBrowser(t)
	p := startDashboardPipeline(t, 6_000, "2ms")
	if err := chromedp.Do(b.ctx, chromedp.Navigate(p.url)); err != nil {
		t.Fatal(err)
	}
	eventually(t, b, "the ten stations, live", readStations, func(rows []pageStation) bool { return len(rows) == 10 })
	screenshot(t, b, "dashboard-laptop.png", 1280, 800)
	screenshot(t, b, "dashboard-phone.png", 390, 844)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}

	// The stream ends, the consumers stop (publishing their last states);
	// the page shows what the files hold, to the last digit.
	p.finish(t)
	for _, c := range p.consumers { // from here on only the test publishes snapshots
		c.terminate()
		c.wait(30 * time.Second)
	}
	files := stationsOfFiles(t, p.dir)
	eventually(t, b, "the files' stations", readStations, func(rows []pageStation) bool { return shows(rows, files) })

	// A new snapshot: the page follows, without a reload. (At the offset of
	// the consumer's last one: of two at one offset, the later wins.)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	var changed string
	publishSnapshot(t, p.topic, 0, snapshotOfFile(t, p.dir, 0, func(state map[string]any) {
		for name, s := range state {
			if name == "offset" {
				continue
			}
			changed = name
			st := s.(map[string]any)
			st["count"] = st["count"].(float64) + 1
			st["sum"] = st["sum"].(float64) + 1000.25
			st["avg"] = st["sum"].(float64) / st["count"].(float64)
			st["end"] = "2099-12-31"
			f := files[name]
			f.Count, f.Sum, f.Avg, f.End = int64(st["count"].(float64)), st["sum"].(float64), st["avg"].(float64), "2099-12-31"
			files[name] = f
			return
		}
	}))
	eventually(t, b, changed+" counted once more", readStations, func(rows []pageStation) bool { return shows(rows, files) })
	if reloaded, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.notReloaded !== true`)); err != nil || reloaded {
		t.Errorf("the page reloaded to show the change (err %v)", err)
	}

	// A snapshot that does not load: an error on its partition, its stations
	// no longer shown as if counted.
	publishSnapshot(t, p.topic, 1, []byte(`{"topic": "`+p.topic+`", "topic_id": "", "partition": 1, "state": {"offset": 12, "StationX": {"count": "many"}}}`))
	rows := eventually(t, b, "partition 1 in error", readPartitions, func(rows []pagePartition) bool {
		for _, r := range rows {
			if r.Partition == "1" {
				return strings.Contains(r.Class, "state-error") && strings.Contains(r.Error, snapshot.Topic(p.topic)+" partition 1 offset")
			}
		}
		return false
	})
	for _, r := range rows {
		if r.Partition != "1" && !strings.Contains(r.Class, "state-ok") {
			t.Errorf("partition %s: class %q, want state-ok", r.Partition, r.Class)
		}
	}
	eventually(t, b, "the incomplete banner", `!document.querySelector('#incomplete').hidden && document.querySelector('#incomplete').textContent`,
		func(s any) bool {
			// Exactly partition 1, with why: not a banner that merely holds a "1".
			text, _ := s.(string)
			return strings.Contains(text, "this partition:") && strings.Contains(text, "partition 1 — its snapshot does not load: "+snapshot.Topic(p.topic)+" partition 1 offset") &&
				!strings.Contains(text, "partition 0") && !strings.Contains(text, "partition 2") && !strings.Contains(text, "partition 3")
		})
	screenshot(t, b, "dashboard-corrupt-snapshot.png", 1280, 800)

	if problems := b.console(); len(problems) > 0 {
		t.Errorf("the browser's console has errors:\n%s", strings.Join(problems, "\n"))
	}
}

// Opened before the dashboard's first view — Kafka does not answer, so the
// first refresh waits for it — the page waits quietly (no failed request in
// the console), then shows that Kafka is away.
func TestDashboardPageOpenedBeforeTheFirstViewWaitsQuietlyAndSaysKafkaIsAway(t *testing.T) {
	b := newBrowser(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	dash := start(t, "dashboard", []string{"KAFKA_BROKERS=" + silent.Addr().String(), "REFRESH_INTERVAL=1s"})
	dash.waitForLog("msg=dashboard", 20*time.Second)
	if err := chromedp.Do(b.ctx, chromedp.Navigate("http://"+dash.httpAddr+"/")); err != nil {
		t.Fatal(err)
	}
	eventually(t, b, "that Kafka does not answer", `!document.querySelector('#kafka-error').hidden && document.querySelector('#kafka-error').textContent`,
		func(s any) bool { text, _ := s.(string); return strings.Contains(text, "deadline") })
	if !strings.Contains(dash.stderr.String(), "no facts from kafka") {
		t.Errorf("the dashboard did not log that Kafka is away:\n%s", dash.stderr.String())
	}
	if problems := b.console(); len(problems) > 0 {
		t.Errorf("the browser's console has errors:\n%s", strings.Join(problems, "\n"))
	}
}
