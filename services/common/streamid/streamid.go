// Package streamid marks every record of the producer's stream with the
// stream's identity: the producer that writes it (its TRANSACTIONAL_ID), the
// SEED of its temperatures and, when not the original's ten, its number of
// STATIONS, as record headers. A producer resuming
// the stream, or checking that nobody else writes it, trusts only records
// that carry them; a record without them is foreign, whatever it holds.
package streamid

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/generator"
)

// The header keys, as `kcat -f '%h'` shows them.
const (
	HeaderProducer = "weather.producer"
	HeaderSeed     = "weather.seed"
	HeaderStations = "weather.stations" // only when not DefaultStations
)

// DefaultStations is a stream's number of stations without the header: the
// original's ten.
const DefaultStations = int(generator.NumStations)

// ID is the identity of a stream.
type ID struct {
	Producer string // the transactional id that writes it
	Seed     uint64
	Stations int // 0 is DefaultStations
}

// NumStations is id.Stations, the default filled in.
func (id ID) NumStations() int {
	if id.Stations == 0 {
		return DefaultStations
	}
	return id.Stations
}

// String names the identity by the settings that make it.
func (id ID) String() string {
	s := fmt.Sprintf("TRANSACTIONAL_ID=%s SEED=%d", id.Producer, id.Seed)
	if n := id.NumStations(); n != DefaultStations {
		s += fmt.Sprintf(" STATIONS=%d", n)
	}
	return s
}

// Same reports whether id and o are one stream.
func (id ID) Same(o ID) bool {
	return id.Producer == o.Producer && id.Seed == o.Seed && id.NumStations() == o.NumStations()
}

// Headers returns the headers that mark a record of the stream. Make them
// once: records may share them (the client only reads them).
func (id ID) Headers() []kgo.RecordHeader {
	h := []kgo.RecordHeader{
		{Key: HeaderProducer, Value: []byte(id.Producer)},
		{Key: HeaderSeed, Value: strconv.AppendUint(nil, id.Seed, 10)},
	}
	if n := id.NumStations(); n != DefaultStations {
		h = append(h, kgo.RecordHeader{Key: HeaderStations, Value: strconv.AppendInt(nil, int64(n), 10)})
	}
	return h
}

// Of returns the identity a record is marked with (Stations filled in), and
// whether it has one.
func Of(rec *kgo.Record) (ID, bool) {
	id := ID{Stations: DefaultStations}
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
		case HeaderStations:
			n, err := strconv.Atoi(string(h.Value))
			if err != nil || n < 1 {
				return ID{}, false
			}
			id.Stations = n
		}
	}
	return id, producer && seed && id.Producer != ""
}
