// Package kfaketest makes an in-process kfake broker behave, for a test, as
// a real Kafka does at its worst moments. For tests only.
package kfaketest

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
