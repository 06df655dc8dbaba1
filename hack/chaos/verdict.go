package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/hack/verify"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// check is one line of the verdict.
type check struct {
	Name   string
	OK     bool
	Detail string
}

// world is what the verdict looks at: the topic (through opts) and the
// consumers' checkpoint directory.
type world struct {
	opts       []kgo.Opt
	topic      string
	partitions int32
	dir        string
	reports    int64 // the producer's COUNT
	seed       uint64
}

// facts are what the verdict found besides the checks.
type facts struct {
	Committed, Aborted, Markers int64
	TransactionVersion          string
}

// judge computes the verdict independently of the services' code: the
// files are read with plain encoding/json, the topic is recounted with the
// protobuf library (hack/verify), read committed, in offset order.
func judge(ctx context.Context, w world) ([]check, facts, error) {
	var f facts
	cl, err := kgo.NewClient(w.opts...)
	if err != nil {
		return nil, f, err
	}
	defer cl.Close()
	id, end, err := logOf(ctx, kadm.NewClient(cl), w.topic)
	if err != nil {
		return nil, f, err
	}
	f.TransactionVersion = transactionVersion(ctx, cl)

	files, err := verify.ReadFiles(w.dir, w.partitions)
	if err != nil {
		return []check{{Name: "every partition file loads", Detail: err.Error()}}, f, nil
	}
	snaps, err := verify.Snapshots(ctx, w.opts, snapshot.Topic(w.topic), id, w.partitions)
	if err != nil {
		return nil, f, fmt.Errorf("snapshots: %w", err)
	}
	rc, err := verify.Count(ctx, w.opts, w.topic, end, w.seed, verify.Offsets(files), verify.Offsets(snaps))
	if err != nil {
		return nil, f, fmt.Errorf("recount: %w", err)
	}
	f.Committed, f.Aborted, f.Markers = logTotals(rc, w.partitions)
	return []check{
		filesAtLogEnd(w, id, end, files),
		filesMatchRecount(files, rc),
		topicIsTheStream(w, rc, f.Committed),
		nothingAbortedCounted(files, f.Committed, f.Aborted),
		snapshotsMatchRecount(w, snaps, rc),
	}, f, nil
}

// logOf returns the topic's ID, as the file format writes it (Kafka's way:
// URL-safe base64, no padding), and each partition's end offset.
func logOf(ctx context.Context, adm *kadm.Client, topic string) (string, map[int32]int64, error) {
	td, err := describe(ctx, adm, topic)
	if err != nil {
		return "", nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return "", nil, fmt.Errorf("end offsets: %w", err)
	}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	return base64.RawURLEncoding.EncodeToString(td.ID[:]), end, nil
}

// logTotals sums the recount's committed reports, aborted records and
// transaction markers over the partitions.
func logTotals(rc *verify.Recount, partitions int32) (committed, aborted, markers int64) {
	for p := range partitions {
		committed += rc.Records[p]
		aborted += rc.Aborted[p]
		markers += rc.Controls[p]
	}
	return committed, aborted, markers
}

// filesAtLogEnd: every file is there, of this log, read to the log's end.
func filesAtLogEnd(w world, id string, end map[int32]int64, files map[int32]verify.File) check {
	var problems []string
	for p := range w.partitions {
		file, ok := files[p]
		want := verify.Log{Topic: w.topic, TopicID: id, Partition: p}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("partition-%d.json is missing", p))
		case file.Log != want:
			problems = append(problems, fmt.Sprintf("partition-%d.json is of log %+v, not %+v", p, file.Log, want))
		case file.Offset != end[p]:
			problems = append(problems, fmt.Sprintf("partition-%d.json is at offset %d, the log ends at %d", p, file.Offset, end[p]))
		}
	}
	return verdictOf(fmt.Sprintf("every partition file is there, of this topic (ID %s), at the log's end", id), problems)
}

// filesMatchRecount: every file equals the recount at its offset, to the
// bit.
func filesMatchRecount(files map[int32]verify.File, rc *verify.Recount) check {
	atFiles := &verify.Recount{Stations: map[int32]map[string]verify.Station{}}
	for p, file := range files {
		atFiles.Stations[p] = rc.At[p][file.Offset]
	}
	return verdictOf("every partition file = a recount of the topic (committed records, exact sums in offset order), "+
		"and read the original's way each station's count is its days",
		append(verify.Compare(files, atFiles), verify.DaysMismatch(files)...))
}

// topicIsTheStream: the topic holds the generated stream, each report
// exactly once (committed: the recount's committed reports).
func topicIsTheStream(w world, rc *verify.Recount, committed int64) check {
	problems := slices.Clone(rc.StreamErrors)
	perStation := map[string]int64{}
	var skipped int64
	for p := range w.partitions {
		skipped += rc.Skipped[p]
		for name, s := range rc.Stations[p] {
			perStation[name] += s.Count
		}
	}
	if committed != w.reports {
		problems = append(problems, fmt.Sprintf("%d committed reports, the producer's COUNT is %d", committed, w.reports))
	}
	if skipped > 0 {
		problems = append(problems, fmt.Sprintf("%d committed records are not reports", skipped))
	}
	for i := range generator.NumStations {
		name := generator.Stations[i]
		if want := w.reports/generator.NumStations + boolInt(i < w.reports%generator.NumStations); perStation[name] != want {
			problems = append(problems, fmt.Sprintf("%s has %d reports, the stream %d", name, perStation[name], want))
		}
	}
	return verdictOf(fmt.Sprintf("the topic holds the generated stream: %d reports, each exactly once, in order per station", w.reports), problems)
}

// nothingAbortedCounted: the files hold the committed reports only, while
// the log also holds the aborted transactions' records.
func nothingAbortedCounted(files map[int32]verify.File, committed, aborted int64) check {
	var inFiles int64
	for _, file := range files {
		for _, s := range file.Stations {
			inFiles += s.Count
		}
	}
	var problems []string
	if inFiles != committed {
		problems = append(problems, fmt.Sprintf("the files count %d reports, the topic has %d committed", inFiles, committed))
	}
	return verdictOf(fmt.Sprintf("nothing aborted is counted (%d aborted records in the log, %d counted)", aborted, inFiles), problems)
}

// snapshotsMatchRecount: the newest snapshot of every partition = the
// recount at its offset.
func snapshotsMatchRecount(w world, snaps map[int32]verify.File, rc *verify.Recount) check {
	var problems []string
	atSnaps := &verify.Recount{Stations: map[int32]map[string]verify.Station{}}
	for p := range w.partitions {
		s, ok := snaps[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("partition %d has no snapshot in %s", p, snapshot.Topic(w.topic)))
			continue
		}
		atSnaps.Stations[p] = rc.At[p][s.Offset]
	}
	problems = append(problems, verify.Compare(snaps, atSnaps)...)
	return verdictOf(fmt.Sprintf("the newest snapshot of every partition (%s) = a recount at its offset", snapshot.Topic(w.topic)), problems)
}

func verdictOf(name string, problems []string) check {
	c := check{Name: name, OK: len(problems) == 0}
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("… and %d more", len(problems)-5))
	}
	c.Detail = strings.Join(problems, "; ")
	return c
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func describe(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		return t, fmt.Errorf("topic %s: %w", topic, t.Err)
	}
	return t, nil
}

// transactionVersion is the cluster's finalized transaction.version (2:
// KIP-890 part 2, an epoch bump on every EndTxn, which franz-go uses when
// the cluster has it), as the brokers' ApiVersions tell.
func transactionVersion(ctx context.Context, cl *kgo.Client) string {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "chaos", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, feat := range resp.FinalizedFeatures {
		if feat.Name == "transaction.version" {
			return fmt.Sprintf("%d", feat.MaxVersionLevel)
		}
	}
	return "0 (not finalized)"
}
