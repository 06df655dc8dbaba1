package streamid

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestOf(t *testing.T) {
	self := ID{Producer: "weather-producer", Seed: 7, Stations: DefaultStations}
	more := ID{Producer: "weather-producer", Seed: 7, Stations: 1000}
	tests := []struct {
		name    string
		headers []kgo.RecordHeader
		want    ID
		ok      bool
	}{
		{"marked", self.Headers(), self, true},
		{"marked, more stations", more.Headers(), more, true},
		{"bad stations", append(self.Headers(), kgo.RecordHeader{Key: HeaderStations, Value: []byte("0")}), ID{}, false},
		{"marked, among others", append([]kgo.RecordHeader{{Key: "trace", Value: []byte("x")}}, self.Headers()...), self, true},
		{"none", nil, ID{}, false},
		{"producer only", self.Headers()[:1], ID{}, false},
		{"seed only", self.Headers()[1:], ID{}, false},
		{"seed not a number", []kgo.RecordHeader{{Key: HeaderProducer, Value: []byte("p")}, {Key: HeaderSeed, Value: []byte("x")}}, ID{}, false},
		{"empty producer", []kgo.RecordHeader{{Key: HeaderProducer}, {Key: HeaderSeed, Value: []byte("1")}}, ID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Of(&kgo.Record{Headers: tt.headers})
			if got != tt.want && tt.ok || ok != tt.ok {
				t.Errorf("Of = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if s := self.String(); s != "TRANSACTIONAL_ID=weather-producer SEED=7" {
		t.Errorf("String = %q", s)
	}
	if s := more.String(); s != "TRANSACTIONAL_ID=weather-producer SEED=7 STATIONS=1000" {
		t.Errorf("String = %q", s)
	}
	if len(self.Headers()) != 2 || !self.Same(ID{Producer: "weather-producer", Seed: 7}) || self.Same(more) {
		t.Error("the default stream: two headers, Stations 0 and 10 the same stream, 1000 another")
	}
}
