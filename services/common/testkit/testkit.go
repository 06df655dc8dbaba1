// Package testkit holds what the tests of several modules share: an
// in-process kfake broker and its clients set up in one line, a buffer for
// output written from other goroutines, and a kfake broker made to behave as
// a real Kafka does at its worst moments. For tests only.
package testkit

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/embeddedkafka"
)

// Buffer is a bytes.Buffer safe for concurrent use: slog handlers and
// exec.Cmd write to it from other goroutines while the test reads it. The
// zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Cluster starts a one-broker kfake cluster (embeddedkafka's: read committed
// kept as a real broker keeps it) with opts (topics, a data
// directory…) and closes it when the test ends.
func Cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := embeddedkafka.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Client is a client of c with opts, closed when the test ends. Its metadata
// is fresh (at most 100ms old), as the services ask for on their admin
// clients, so a topic just created or deleted is seen soon.
func Client(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// RefuseListOffsets makes c answer its next n ListOffsets requests with
// UNKNOWN_TOPIC_OR_PARTITION for every partition, as a real broker does for a
// moment after a topic is created (kfake never does). It returns the count
// of requests refused so far.
func RefuseListOffsets(c *kfake.Cluster, n int) *int {
	refused := new(int)
	for range n {
		c.ControlKey(kmsg.ListOffsets.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
			*refused++
			r := req.(*kmsg.ListOffsetsRequest)
			resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewListOffsetsResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewListOffsetsResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownTopicOrPartition.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		})
	}
	return refused
}

// Begin begins a transaction of cl (transactional, with a default produce
// topic) and writes values in it, one record each; it leaves it open.
func Begin(t testing.TB, cl *kgo.Client, values ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// Transaction writes values in one transaction of cl and ends it: commit
// (kgo.TryCommit) or abort (kgo.TryAbort).
func Transaction(t testing.TB, cl *kgo.Client, end kgo.TransactionEndTry, values ...string) {
	t.Helper()
	Begin(t, cl, values...)
	if err := cl.EndTransaction(context.Background(), end); err != nil {
		t.Fatal(err)
	}
}

// ConfigCase is one row of a service's configuration test: the environment
// and the arguments it starts with, and the error it must stop with ("" for
// a configuration that is valid).
type ConfigCase struct {
	Name    string
	Env     map[string]string
	Args    []string
	WantErr string
	// Want checks a valid configuration's values, as the load function
	// left them where the test reads them: "" if right, else what is wrong.
	Want func() string
}

// CheckConfig runs load for each case, its environment set, and checks that
// it fails with one line containing WantErr, or succeeds when WantErr is ""
// (with the values Want checks).
func CheckConfig(t *testing.T, cases []ConfigCase, load func(args []string) error) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			for k, v := range tt.Env {
				t.Setenv(k, v)
			}
			err := load(tt.Args)
			switch {
			case tt.WantErr == "" && err != nil:
				t.Fatalf("error %q, want none", err)
			case tt.WantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.WantErr) || strings.Contains(err.Error(), "\n")):
				t.Errorf("error %q, want one line with %q", err, tt.WantErr)
			case tt.WantErr == "" && tt.Want != nil:
				if wrong := tt.Want(); wrong != "" {
					t.Errorf("loaded: %s", wrong)
				}
			}
		})
	}
}
