package consume

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// stopped waits for Run to end and returns its error.
func (e *env) stopped(r *running, within time.Duration) error {
	e.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(within):
		e.t.Fatalf("Run still running after %s; log:\n%s", within, e.logs)
		return nil
	}
}

// logged waits until the log holds all of want.
func (e *env) logged(within time.Duration, want ...string) {
	e.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		all := true
		for _, w := range want {
			all = all && strings.Contains(e.logs.String(), w)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the log has not %q within %s:\n%s", want, within, e.logs)
		}
	}
}

// Records deleted (retention, DeleteRecords) past the offset the consumer
// is at once it runs: Run stops with an error naming the partition, the
// offset and its file; it never jumps to the new log start, so nothing is
// counted from there and the file keeps what it had.
func TestRunStopsWhenItsOffsetLeavesTheLog(t *testing.T) {
	e := newEnv(t, 1)
	e.produce(0, 500)
	c, _, err := e.start(e.config(0))
	if err != nil {
		t.Fatal(err)
	}
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 123})
	if resp, err := e.adm.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	err = e.stopped(e.run(c), 15*time.Second)
	want := "partition 0: offset 0 is no longer in the log (deleted by retention, or the topic was recreated); " +
		filepath.Join(e.dir, "partition-0.json") + " keeps the stats up to it"
	if err == nil || err.Error() != want {
		t.Fatalf("Run: %v, want %q", err, want)
	}
	store, _ := checkpoint.Open(e.dir)
	if f, err := store.Load(0); err != nil || f != nil && (f.Offset != 0 || len(f.Stations) != 0) {
		t.Errorf("partition 0's file: %+v, %v; want none, or offset 0 and no station: nothing counted past the deleted records", f, err)
	}
}

// Partitions added to the topic under a running consumer: it says so, names
// the new partitions nobody reads, and goes on consuming its own.
func TestRunWarnsWhenTheTopicGainsPartitions(t *testing.T) {
	e := newEnv(t, 2)
	e.produce(0, 200)
	c, m, err := e.start(e.config(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0, 1)
	if _, err := e.adm.CreatePartitions(context.Background(), 2, topic); err != nil {
		t.Fatal(err)
	}
	e.logged(10*time.Second, `msg="the topic's partition count changed" topic=temperatures partitions=4 was=2`,
		`unread="[2 3]" partitions=4 this_consumer="[0 1]"`)
	if n := testutil.ToFloat64(m.unread); n != 2 {
		t.Errorf("unread partitions %v, want 2", n)
	}
	e.produce(200, 400) // to the four partitions: its own two still counted
	e.caughtUp(0, 1)
	select {
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run stopped: %v", err)
	default:
	}
	if n := strings.Count(e.logs.String(), "the topic's partition count changed"); n != 1 {
		t.Errorf("the change was told %d times, want once:\n%s", n, e.logs)
	}
}

// The topic deleted, and not created again, under a running consumer: its
// fetches fail at once and that brings the topic's check forward (a check
// interval of a minute is not waited for); Run stops saying the topic was
// deleted, its files as they were.
func TestRunStopsWhenTheTopicIsDeleted(t *testing.T) {
	e := newEnv(t, 2)
	e.produce(0, 500)
	cfg := e.config(0, 1)
	cfg.TopicCheckInterval = time.Minute
	c, _, err := e.start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(c)
	e.caughtUp(0, 1)
	before := e.file(0)
	if _, err := e.adm.DeleteTopic(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
	err = e.stopped(r, 15*time.Second)
	want := "topic temperatures was deleted while consuming: the checkpoints of partitions [0 1] keep the stats of the deleted log. " +
		"Once it is created again, start with ON_OFFSET_OUT_OF_RANGE=restart to keep them as backups and count the new log"
	if err == nil || err.Error() != want {
		t.Fatalf("Run: %v, want %q", err, want)
	}
	if after := e.file(0); after.Offset != before.Offset || len(after.Stations) != len(before.Stations) {
		t.Errorf("partition 0 changed from offset %d to %d", before.Offset, after.Offset)
	}
}

// A look-up of the topic that fails otherwise than "no such topic" (here an
// ACL revoked for a moment) stops nothing and is taken for no change: a
// warning names the error; the topic is neither counted as missing nor as
// having another partition count.
func TestTopicWatchGoesOnWhenTheLookUpFails(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	before, err := kafkaadmin.Lookup(ctx, e.adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := checkpoint.Open(e.dir)
	w := newTopicWatch(slog.New(slog.NewTextHandler(e.logs, nil)), e.adm, store, before, e.config(0, 1), NewMetrics(prometheus.NewRegistry()))
	var deny atomic.Bool
	var denied atomic.Int32
	deny.Store(true)
	e.cluster.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		if !deny.Load() {
			return nil, nil, false
		}
		denied.Add(1)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		for _, addr := range e.cluster.ListenAddrs() {
			host, port, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = 0, host, int32(n)
			resp.Brokers = append(resp.Brokers, b)
		}
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	// Three failed looks in a row, more than a missing topic needs to be
	// believed gone (the client answers a look-up from its metadata if that
	// is under 100ms old: a look the broker did not answer is not counted).
	const warning = `level=WARN msg="cannot look at the topic" topic=temperatures err="TOPIC_AUTHORIZATION_FAILED: `
	for inRow, deadline := 0, time.Now().Add(10*time.Second); inRow < 3; time.Sleep(50 * time.Millisecond) {
		warned := strings.Count(e.logs.String(), warning)
		if err := w.check(ctx); err != nil {
			t.Fatalf("check: %v, want nil (the consumer goes on); log:\n%s", err, e.logs)
		}
		if strings.Count(e.logs.String(), warning) > warned {
			inRow++
		} else {
			inRow = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("no three failed looks in a row within 10s (%d denied); log:\n%s", denied.Load(), e.logs)
		}
	}
	deny.Store(false)
	if w.missing != 0 || w.partitions != 2 || strings.Contains(e.logs.String(), "partition count changed") {
		t.Errorf("after the failed look-ups: missing %d, partitions %d; want 0, 2 (nothing known changed):\n%s", w.missing, w.partitions, e.logs)
	}
	if err := w.check(ctx); err != nil {
		t.Errorf("check with the topic answered again: %v", err)
	}
}

// ON_OFFSET_OUT_OF_RANGE=restart, and the file that does not fit cannot be
// moved aside: Start fails with the reason, and the file stays where it was,
// as it was; nothing is started afresh over it.
func TestStartKeepsTheFileWhenItsBackupFails(t *testing.T) {
	e := newEnv(t, 4)
	e.produce(0, 1000)
	content := `{"offset": 3, "log": {"topic": "temperatures", "topic_id": "AAAAAAAAAAAAAAAAAAAAAg", "partition": 1}, ` +
		`"StationJ": {"count": 1, "sum": 0, "avg": 0, "start": "2000-01-01", "end": "2000-01-01"}}`
	path := filepath.Join(e.dir, "partition-1.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every backup name of the next minute is taken by a directory that
	// holds something: the rename fails.
	for now, i := time.Now(), 0; i < 60; i++ {
		taken := path + ".bak-" + now.Add(time.Duration(i)*time.Second).UTC().Format("20060102T150405Z")
		if err := os.MkdirAll(filepath.Join(taken, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.config(1)
	cfg.OnOutOfRange = OutOfRangeRestart
	c, _, err := e.start(cfg)
	if c != nil || err == nil || !strings.HasPrefix(err.Error(), "checkpoint backup: rename "+path+" "+path+".bak-") {
		t.Fatalf("Start: consumer %v, error %v; want no consumer and the backup's error", c != nil, err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != content {
		t.Errorf("the file is now %q, %v; want it as it was", got, err)
	}
	if strings.Contains(e.logs.String(), "starts afresh") || strings.Contains(e.logs.String(), "starting the partition afresh") {
		t.Errorf("started afresh:\n%s", e.logs)
	}
}
