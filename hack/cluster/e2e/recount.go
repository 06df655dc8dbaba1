// Package e2e tests the Helm chart on a real single-node Kubernetes cluster
// (hack/cluster/up.sh): see e2e_test.go. This file is the independent
// recount: the stats files on the consumers' volume, and what the dashboard
// serves (the snapshots it follows), against the topic, read again from
// offset 0.
package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/verify"
	"github.com/weatherstream/weather/services/common/generator"
)

// The files and the recount are hack/verify's, shared with the fault
// campaign (hack/chaos).
type (
	// Station is verify.Station.
	Station = verify.Station
	// File is verify.File.
	File = verify.File
	// Log is verify.Log.
	Log = verify.Log
	// Recount is verify.Recount.
	Recount = verify.Recount
)

// ReadFiles, Offsets and Compare: see hack/verify.
var (
	ReadFiles = verify.ReadFiles
	Offsets   = verify.Offsets
	Compare   = verify.Compare
)

// Kafka reaches the chart's broker from the host. The broker advertises its
// pod's DNS name, which only the cluster's DNS knows, so every name is
// resolved by CoreDNS (its Service IP, through kube-proxy's rules); the pod
// and Service addresses themselves are routed to from the host.
type Kafka struct {
	Bootstrap string // host:port, e.g. the chart's Kafka Service name
	DNS       string // CoreDNS address, ip:53
	Topic     string
	// TLS, when not nil, is the TLS of every connection (a secured broker:
	// its CA, a client certificate); the server name checked is each
	// broker's host unless it sets one.
	TLS *tls.Config
}

func (k Kafka) opts() []kgo.Opt {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dialer.Resolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, k.DNS)
		},
	}
	dial := dialer.DialContext
	if k.TLS != nil {
		// kgo.DialTLSConfig cannot be combined with kgo.Dialer: the TLS
		// dialer on top of the one that resolves through CoreDNS.
		dial = (&tls.Dialer{NetDialer: dialer, Config: k.TLS}).DialContext
	}
	return []kgo.Opt{
		kgo.SeedBrokers(k.Bootstrap),
		kgo.Dialer(dial),
		kgo.RetryTimeout(30 * time.Second),
	}
}

// Admin is an admin client of the broker.
func (k Kafka) Admin() (*kadm.Client, error) {
	cl, err := kgo.NewClient(k.opts()...)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// Offsets returns the topic's log start and end offsets per partition.
func (k Kafka) Offsets(ctx context.Context) (start, end map[int32]int64, err error) {
	cl, err := kgo.NewClient(k.opts()...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	conv := func(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, err
		}
		if err := l.Error(); err != nil {
			return nil, err
		}
		m := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		if len(m) == 0 {
			return nil, fmt.Errorf("topic %q has no partitions", k.Topic)
		}
		return m, nil
	}
	if start, err = conv(adm.ListStartOffsets(ctx, k.Topic)); err != nil {
		return nil, nil, err
	}
	end, err = conv(adm.ListEndOffsets(ctx, k.Topic))
	return start, end, err
}

// TopicID is the topic's ID (KIP-516): a topic created again, on a log
// formatted afresh, gets a new one.
func (k Kafka) TopicID(ctx context.Context) (string, error) {
	adm, err := k.Admin()
	if err != nil {
		return "", err
	}
	defer adm.Close()
	topics, err := adm.ListTopics(ctx, k.Topic)
	if err != nil {
		return "", err
	}
	d, ok := topics[k.Topic]
	switch {
	case !ok:
		return "", fmt.Errorf("topic %q not found", k.Topic)
	case d.Err != nil:
		return "", fmt.Errorf("topic %q: %w", k.Topic, d.Err)
	}
	return d.ID.String(), nil
}

// Recount is verify.Count on this broker: see there.
func (k Kafka) Recount(ctx context.Context, upTo map[int32]int64, seed uint64, also ...map[int32]int64) (*Recount, error) {
	return verify.Count(ctx, k.opts(), k.Topic, upTo, seed, also...)
}

// DebugLine is one line the debug consumer printed.
type DebugLine struct {
	Station   string
	Date      string
	Degrees   float64
	Partition int32
}

// ParseDebugLine reads the debug consumer's text line:
//
//	{'station_id': 'StationC', 'date': '2008-12-17', 'degrees': 35.2621, 'partition': 2}
func ParseDebugLine(line string) (DebugLine, bool) {
	var l DebugLine
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{'station_id': ") || !strings.HasSuffix(line, "}") {
		return l, false
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(line, "{}"), ", ") {
		k, v, ok := strings.Cut(kv, ": ")
		if !ok {
			return l, false
		}
		fields[strings.Trim(k, "'")] = strings.Trim(v, "'")
	}
	deg, err1 := strconv.ParseFloat(fields["degrees"], 64)
	part, err2 := strconv.ParseInt(fields["partition"], 10, 32)
	if err := errors.Join(err1, err2); err != nil || fields["station_id"] == "" || fields["date"] == "" {
		return l, false
	}
	return DebugLine{Station: fields["station_id"], Date: fields["date"], Degrees: deg, Partition: int32(part)}, true
}

// CheckDebugLine checks a printed report against the generated stream.
func CheckDebugLine(l DebugLine, seed uint64) error {
	i, err := generator.Index(l.Date, l.Station)
	if err != nil {
		return err
	}
	r := generator.New(seed).Report(i)
	if r.Degrees != l.Degrees {
		return fmt.Errorf("%s on %s: printed %v degrees, the stream has %v", l.Station, l.Date, l.Degrees, r.Degrees)
	}
	return nil
}

// Dashboard is what the dashboard served of one view (one refresh): its
// /api/v1/stations and /api/v1/partitions, of the same "time".
type Dashboard struct {
	Stations   DashboardStations
	Partitions DashboardPartitions
}

// DashboardStations is /api/v1/stations.
type DashboardStations struct {
	Time     string             `json:"time"`
	Complete bool               `json:"complete"`
	Stations []DashboardStation `json:"stations"`
}

// DashboardStation is one station, merged over the partitions.
type DashboardStation struct {
	Station    string  `json:"station"`
	Count      int64   `json:"count"`
	Sum        float64 `json:"sum"`
	Avg        float64 `json:"avg"`
	Start      string  `json:"start"`
	End        string  `json:"end"`
	Partitions []int32 `json:"partitions"`
}

// DashboardPartitions is /api/v1/partitions.
type DashboardPartitions struct {
	Time       string               `json:"time"`
	Topic      string               `json:"topic"`
	TopicID    string               `json:"topic_id"`
	KafkaError string               `json:"kafka_error"`
	Partitions []DashboardPartition `json:"partitions"`
	Unread     []int32              `json:"unread"`
}

// DashboardPartition is one partition's row.
type DashboardPartition struct {
	Partition int32  `json:"partition"`
	State     string `json:"state"`
	Error     string `json:"error"`
	Offset    *int64 `json:"offset"`
	LogEnd    *int64 `json:"log_end"`
	Lag       *int64 `json:"lag"`
	Log       *Log   `json:"log"`
	Stations  int    `json:"stations"`
}

// ParseDashboard reads the two responses and requires them to be of one view.
func ParseDashboard(stations, partitions []byte) (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(stations, &d.Stations); err != nil {
		return d, fmt.Errorf("/api/v1/stations: %w: %.200q", err, stations)
	}
	if err := json.Unmarshal(partitions, &d.Partitions); err != nil {
		return d, fmt.Errorf("/api/v1/partitions: %w: %.200q", err, partitions)
	}
	if d.Stations.Time == "" || d.Stations.Time != d.Partitions.Time {
		return d, fmt.Errorf("stations of the view at %q, partitions of the one at %q: not one view", d.Stations.Time, d.Partitions.Time)
	}
	return d, nil
}

// Offsets are the dashboard's partitions' offsets (those it shows one of).
func (d Dashboard) Offsets() map[int32]int64 {
	m := map[int32]int64{}
	for _, p := range d.Partitions.Partitions {
		if p.Offset != nil {
			m[p.Partition] = *p.Offset
		}
	}
	return m
}

// CheckDashboardPartitions tells why the dashboard's view is not yet (or
// not) the one wanted: every partition 0..n-1 of topic (its ID topicID) has
// state "ok", its snapshot of that log at an offset of at least atLeast[p]
// (the files as the test last read them: the snapshots the dashboard
// follows are published after the files are written, and caught up with
// them), Kafka answered (log end and lag, lag = log end - offset >= 0);
// none other, none unread; and the stations are complete.
func CheckDashboardPartitions(d Dashboard, n int32, topic, topicID string, atLeast map[int32]int64) error {
	ps := d.Partitions
	switch {
	case ps.KafkaError != "":
		return fmt.Errorf("kafka_error %q", ps.KafkaError)
	case ps.Topic != topic || ps.TopicID != topicID:
		return fmt.Errorf("topic %q (ID %q), want %q (ID %q, the files')", ps.Topic, ps.TopicID, topic, topicID)
	case len(ps.Unread) > 0:
		return fmt.Errorf("unread partitions %v", ps.Unread)
	case len(ps.Partitions) != int(n):
		return fmt.Errorf("%d partition rows, want %d", len(ps.Partitions), n)
	}
	for i, p := range ps.Partitions {
		switch want := (Log{Topic: topic, TopicID: topicID, Partition: p.Partition}); {
		case p.Partition != int32(i):
			return fmt.Errorf("row %d is partition %d: want partitions 0..%d in order", i, p.Partition, n-1)
		case p.State != "ok":
			return fmt.Errorf("partition %d: state %q (%s), want ok", p.Partition, p.State, p.Error)
		case p.Log == nil || *p.Log != want:
			return fmt.Errorf("partition %d: log %+v, want %+v", p.Partition, p.Log, want)
		case p.Offset == nil:
			return fmt.Errorf("partition %d: ok without an offset", p.Partition)
		case *p.Offset < atLeast[p.Partition]:
			return fmt.Errorf("partition %d: offset %d, the file is at %d: waiting for its snapshot and a refresh", p.Partition, *p.Offset, atLeast[p.Partition])
		case p.LogEnd == nil || p.Lag == nil:
			return fmt.Errorf("partition %d: no log end or lag (%v, %v)", p.Partition, p.LogEnd, p.Lag)
		case *p.Lag != *p.LogEnd-*p.Offset || *p.Lag < 0:
			return fmt.Errorf("partition %d: lag %d, log end %d, offset %d: want lag = log end - offset >= 0", p.Partition, *p.Lag, *p.LogEnd, *p.Offset)
		}
	}
	if !d.Stations.Complete {
		return errors.New("stations not complete")
	}
	return nil
}

// CompareDashboard returns every difference between the dashboard's
// stations and the recount at the dashboard's offsets (rc.At): each station
// is in exactly one partition (the records are keyed by station), and its
// count, sum, start and end are that partition's, exactly; avg is sum/count.
func CompareDashboard(d Dashboard, rc *Recount) []string {
	var diffs []string
	offsets := d.Offsets()
	want := map[string]DashboardStation{}
	for _, p := range verify.SortedKeys(offsets) {
		for name, s := range rc.At[p][offsets[p]] {
			if prev, dup := want[name]; dup {
				diffs = append(diffs, fmt.Sprintf("the topic has %s in partitions %v and %d", name, prev.Partitions, p))
			}
			want[name] = DashboardStation{Station: name, Count: s.Count, Sum: s.Sum, Start: s.Start, End: s.End, Partitions: []int32{p}}
		}
	}
	got := map[string]DashboardStation{}
	for i, s := range d.Stations.Stations {
		if i > 0 && d.Stations.Stations[i-1].Station >= s.Station {
			diffs = append(diffs, fmt.Sprintf("stations not sorted by name: %s after %s", s.Station, d.Stations.Stations[i-1].Station))
		}
		got[s.Station] = s
	}
	for _, name := range verify.SortedKeys(verify.UnionKeys(got, want)) {
		g, ok1 := got[name]
		w, ok2 := want[name]
		avg := g.Avg
		g.Avg = 0
		switch {
		case !ok2:
			diffs = append(diffs, fmt.Sprintf("dashboard has %s %+v, the topic has none below offsets %v", name, g, offsets))
		case !ok1:
			diffs = append(diffs, fmt.Sprintf("dashboard lacks %s, the topic has %+v below offset %d", name, w, offsets[w.Partitions[0]]))
		case !reflect.DeepEqual(g, w):
			diffs = append(diffs, fmt.Sprintf("dashboard %+v, recount %+v (offset %d)", g, w, offsets[w.Partitions[0]]))
		case math.Abs(avg-g.Sum/float64(g.Count)) > 1e-9*math.Max(1, math.Abs(avg)):
			diffs = append(diffs, fmt.Sprintf("dashboard %s: avg %v is not sum/count %v", name, avg, g.Sum/float64(g.Count)))
		}
	}
	return diffs
}
