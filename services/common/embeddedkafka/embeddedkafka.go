// Package embeddedkafka is the embedded broker of `make run` and of the
// in-process tests: franz-go's kfake, with what it needs to keep the promise
// a real broker keeps to a read committed reader.
//
// kfake (v0.0.0-20260918054303-01f206a7e32c) builds a fetch response
// partition by partition; when the request's MaxBytes is reached in the middle
// of a partition, it stops there ("break full" in 01_fetch.go) before adding
// that partition's AbortedTransactions. The batches it already added go out
// without the list, so a read committed client — which drops a producer's
// records only from the first offsets the broker lists as aborted — hands the
// application the records of aborted transactions as if committed. A consumer
// with a small FetchMaxBytes (ours: 256 KiB) counted 29,852 aborted reports in
// 2.5M; with franz-go's 50 MiB default the limit is never reached and the bug
// hides. TestKfakeAloneHandsOutAbortedRecords shows it in a few lines.
//
// The guard (GuardFetches) keeps every fetch away from that path: each
// partition's limit becomes min(its limit, the request's), and the request's
// limit is lifted, so a response ends only at partition limits, where kfake
// adds the list. A response can then be larger than a client's FetchMaxBytes
// (at most one FetchMaxBytes per partition fetched), as a real broker's can be
// (Kafka treats both limits as soft); nothing else changes.
package embeddedkafka

import (
	"math"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// NewCluster is kfake.NewCluster with GuardFetches.
func NewCluster(opts ...kfake.Opt) (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, err
	}
	GuardFetches(c)
	return c, nil
}

// GuardFetches rewrites every fetch request c receives so that kfake never
// ends a response on the request's MaxBytes (see the package comment). It
// only rewrites, and lets kfake answer: the control function stays for every
// later fetch.
func GuardFetches(c *kfake.Cluster) {
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		ClampFetch(req.(*kmsg.FetchRequest))
		return nil, nil, false
	})
}

// ClampFetch moves a fetch's overall limit onto each of its partitions.
func ClampFetch(r *kmsg.FetchRequest) {
	if r.MaxBytes <= 0 || r.MaxBytes == math.MaxInt32 {
		return
	}
	for i := range r.Topics {
		for j := range r.Topics[i].Partitions {
			p := &r.Topics[i].Partitions[j]
			p.PartitionMaxBytes = min(p.PartitionMaxBytes, r.MaxBytes)
		}
	}
	r.MaxBytes = math.MaxInt32
}
