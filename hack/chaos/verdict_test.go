package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/embeddedkafka"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// TestJudgeFailsOnEveryKindOfWrong: the verdict passes a topic and files
// that are right, and fails each way they can be wrong. The files are
// written here by hand in the documented format, from the generator.
func TestJudgeFailsOnEveryKindOfWrong(t *testing.T) {
	const days = 10
	for _, c := range []struct {
		name    string
		reports int64 // the COUNT the verdict is told
		dup     bool  // a report committed twice
		abort   bool  // a transaction of reports aborted
		tamper  func(files map[int32]map[string]any)
		// snapTamper changes the snapshots, which start as the files
		// before tamper.
		snapTamper func(snaps map[int32]map[string]any)
		failing    []int // the checks that must fail (indexes into judge's checks)
	}{
		{name: "right", reports: days * 10},
		{name: "right, with an aborted transaction in the log", reports: days * 10, abort: true},
		{name: "a sum off in a file", reports: days * 10, failing: []int{1},
			tamper: func(f map[int32]map[string]any) {
				s := f[0]["StationA"].(map[string]any)
				s["sum"] = s["sum"].(float64) + 0.5
				s["avg"] = s["sum"].(float64) / float64(s["count"].(int64))
			}},
		{name: "a file that does not load", reports: days * 10, failing: []int{0},
			tamper: func(f map[int32]map[string]any) { f[0]["StationA"].(map[string]any)["avg"] = 1.5 }},
		{name: "a file behind the log", reports: days * 10, failing: []int{0, 1},
			tamper: func(f map[int32]map[string]any) { f[1]["offset"] = 3 }},
		{name: "a file of another topic", reports: days * 10, failing: []int{0},
			tamper: func(f map[int32]map[string]any) { f[0]["log"].(map[string]any)["topic_id"] = "AAAAAAAAAAAAAAAAAAAAAA" }},
		{name: "a file missing", reports: days * 10, failing: []int{0, 3},
			tamper: func(f map[int32]map[string]any) { delete(f, 1) }},
		{name: "a report twice in the topic", reports: days * 10, dup: true, failing: []int{1, 2, 3, 4}},
		{name: "fewer reports than the producer's count", reports: days*10 + 7, failing: []int{2}},
		{name: "a snapshot off", reports: days * 10, failing: []int{4},
			snapTamper: func(f map[int32]map[string]any) {
				s := f[1]["StationB"].(map[string]any)
				s["count"] = s["count"].(int64) - 1
				s["avg"] = s["sum"].(float64) / float64(s["count"].(int64))
			}},
		{name: "a snapshot missing", reports: days * 10, failing: []int{4},
			snapTamper: func(f map[int32]map[string]any) { delete(f, 0) }},
		{name: "a station's count that is not its days", reports: days * 10, failing: []int{1},
			tamper: func(f map[int32]map[string]any) {
				s := f[0]["StationA"].(map[string]any)
				s["end"] = "2000-01-04" // its count is still 5 days'
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, files := pipeline(t, days, c.dup, c.abort)
			snaps := map[int32]map[string]any{}
			for p, f := range files {
				data, _ := json.Marshal(f)
				var copied map[string]any
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				_ = dec.Decode(&copied)
				snaps[p] = numbers(copied)
			}
			if c.tamper != nil {
				c.tamper(files)
			}
			if c.snapTamper != nil {
				c.snapTamper(snaps)
			}
			publish(t, w, snaps)
			for p, f := range files {
				// The file in the original's format, its log beside it.
				log, _ := json.Marshal(f["log"])
				delete(f, "log")
				data, _ := json.Marshal(f)
				if err := os.WriteFile(filepath.Join(w.dir, fmt.Sprintf("partition-%d.json", p)), data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(w.dir, fmt.Sprintf("partition-%d.log", p)), log, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w.reports = c.reports
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			checks, facts, err := judge(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.failing) == 1 && c.failing[0] == 0 && len(checks) == 1 && !checks[0].OK {
				return // the files do not load: that alone is the verdict
			}
			if len(checks) != 5 {
				t.Fatalf("%d checks: %+v", len(checks), checks)
			}
			for i, ch := range checks {
				want := true
				for _, f := range c.failing {
					if f == i {
						want = false
					}
				}
				if ch.OK != want {
					t.Errorf("check %q: ok %v, want %v (%s)", ch.Name, ch.OK, want, ch.Detail)
				}
			}
			if c.abort && facts.Aborted != 10 {
				t.Errorf("%d aborted records found, want 10", facts.Aborted)
			}
		})
	}
}

// pipeline writes days of the generated stream (seed 1) to a kfake topic of
// two partitions (even stations to 0, odd to 1), a transaction a day, and
// returns the world and the files a correct consumer writes at the end.
func pipeline(t *testing.T, days int64, dup, abort bool) (world, map[int32]map[string]any) {
	t.Helper()
	c, err := embeddedkafka.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic, snapshot.Topic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("verdict-test"),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	gen := generator.New(1)
	produce := func(i int64) {
		r := gen.Report(i)
		v, err := codec.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v, Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	txn := func(commit kgo.TransactionEndTry, day int64) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := day * 10; i < (day+1)*10; i++ {
			produce(i)
		}
		if dup && day == 3 {
			produce(day * 10)
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	for day := range days {
		if abort && day == 5 {
			txn(kgo.TryAbort, day) // retried below, as the producer would
		}
		txn(kgo.TryCommit, day)
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := md.Topics[topic].ID
	files := map[int32]map[string]any{}
	for p := range int32(2) {
		end, _ := ends.Lookup(topic, p)
		files[p] = map[string]any{"offset": end.Offset,
			"log": map[string]any{"topic": topic, "topic_id": base64.RawURLEncoding.EncodeToString(id[:]), "partition": p}}
	}
	for i := range days * 10 {
		r, p := gen.Report(i), int32(i%2)
		s, ok := files[p][r.StationId].(map[string]any)
		if !ok {
			s = map[string]any{"count": int64(0), "sum": 0.0, "start": r.Date}
			files[p][r.StationId] = s
		}
		s["count"] = s["count"].(int64) + 1
		s["sum"] = s["sum"].(float64) + r.Degrees
		s["avg"] = s["sum"].(float64) / float64(s["count"].(int64))
		s["end"] = r.Date
	}
	return world{opts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, topic: topic, partitions: 2, dir: t.TempDir(), seed: 1}, files
}

// numbers turns a decoded file's json.Numbers back into the int64 and
// float64 the tampering functions expect.
func numbers(f map[string]any) map[string]any {
	for k, v := range f {
		switch v := v.(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil && k != "sum" && k != "avg" {
				f[k] = i
			} else {
				f[k], _ = v.Float64()
			}
		case map[string]any:
			f[k] = numbers(v)
		}
	}
	return f
}

// publish writes each partition's snapshot as the consumers do: the state
// (the file without its log) in the documented record.
func publish(t *testing.T, w world, snaps map[int32]map[string]any) {
	t.Helper()
	cl, err := kgo.NewClient(append(w.opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p, s := range snaps {
		log := s["log"]
		delete(s, "log")
		l := log.(map[string]any)
		value, _ := json.Marshal(map[string]any{"topic": l["topic"], "topic_id": l["topic_id"], "partition": p, "state": s})
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: snapshot.Topic(w.topic), Partition: p, Key: []byte{byte('0' + p)}, Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}
