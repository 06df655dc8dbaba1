// Package streamid marks every record of the producer's stream with the
// stream's identity: the producer that writes it (its TRANSACTIONAL_ID) and
// the SEED of its temperatures, as two record headers. A producer resuming
// the stream, or checking that nobody else writes it, trusts only records
// that carry them; a record without them is foreign, whatever it holds.
package streamid

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The header keys, as `kcat -f '%h'` shows them.
const (
	HeaderProducer = "weather.producer"
	HeaderSeed     = "weather.seed"
)

// ID is the identity of a stream.
type ID struct {
	Producer string // the transactional id that writes it
	Seed     uint64
}

// String names the identity by the settings that make it.
func (id ID) String() string {
	return fmt.Sprintf("TRANSACTIONAL_ID=%s SEED=%d", id.Producer, id.Seed)
}

// Headers returns the headers that mark a record of the stream. Make them
// once: records may share them (the client only reads them).
func (id ID) Headers() []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderProducer, Value: []byte(id.Producer)},
		{Key: HeaderSeed, Value: strconv.AppendUint(nil, id.Seed, 10)},
	}
}

// Of returns the identity a record is marked with, and whether it has one.
func Of(rec *kgo.Record) (ID, bool) {
	var id ID
	var producer, seed bool
	for _, h := range rec.Headers {
		switch h.Key {
		case HeaderProducer:
			id.Producer, producer = string(h.Value), true
		case HeaderSeed:
			n, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				return ID{}, false
			}
			id.Seed, seed = n, true
		}
	}
	return id, producer && seed && id.Producer != ""
}
