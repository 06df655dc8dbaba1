package stats

import (
	"fmt"
	"testing"
)

var benchStations = [...]string{
	"StationA", "StationB", "StationC", "StationD", "StationE",
	"StationF", "StationG", "StationH", "StationI", "StationJ",
}

// full is a partition that has seen every station for years.
func full() *Partition {
	p := New(0)
	for day := range 3650 {
		date := fmt.Sprintf("%04d-%02d-%02d", 2000+day/365, 1+day%365/31, 1+day%31)
		for _, s := range benchStations {
			p.Add([]byte(s), []byte(date), 30.5+float64(day%17))
		}
	}
	p.Offset = 36500
	return p
}

// The stats update of every consumed record.
func BenchmarkAdd(b *testing.B) {
	p := New(0)
	dates := [...][]byte{[]byte("2009-12-30"), []byte("2009-12-31"), []byte("2010-01-01")}
	var stations [len(benchStations)][]byte
	for i, s := range benchStations {
		stations[i] = []byte(s)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.Add(stations[i%len(stations)], dates[i/len(stations)%len(dates)], 21.5); err != nil {
			b.Fatal(err)
		}
	}
}

// The serialization half of a checkpoint write (ten stations).
func BenchmarkMarshalJSON(b *testing.B) {
	p := full()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// Reading a checkpoint back: what a restarted consumer does per partition.
func BenchmarkParse(b *testing.B) {
	data, _ := full().MarshalJSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
