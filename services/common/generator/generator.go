// Package generator produces the endless stream of daily station reports of
// the original assignment: from 2000-01-01, one report per station (StationA …
// StationJ, in that order) per day. A stream may have more stations than the
// original's ten, for measuring how cost grows; ten is the default and is
// exactly the original's stream.
//
// Every report has an index: index = day*stations + station. The stream is a
// pure function of (seed, stations, index), so a restarted producer can
// continue at any index and a test can recompute exactly what the pipeline
// must have seen.
package generator

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/weatherstream/weather/proto/reportpb"
)

// Stations are the original's station ids, in the order of a day's reports.
var Stations = [...]string{
	"StationA", "StationB", "StationC", "StationD", "StationE",
	"StationF", "StationG", "StationH", "StationI", "StationJ",
}

// NumStations is the number of the original's stations: the default.
const NumStations = int64(len(Stations))

// MaxStations bounds a stream's stations: a day is that many reports.
const MaxStations = 100_000

// DateLayout is the layout of Report.Date.
const DateLayout = "2006-01-02"

// Epoch is the date of the first report.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Names returns the ids of a stream's n stations, in the order of a day's
// reports: up to 26, StationA, StationB, … (ten: the original's); more,
// Station0000, Station0001, … (as many digits as n-1 has).
func Names(n int) []string {
	names := make([]string, n)
	for i := range names {
		if n <= 26 {
			names[i] = "Station" + string(rune('A'+i))
		} else {
			names[i] = fmt.Sprintf("Station%0*d", len(strconv.Itoa(n-1)), i)
		}
	}
	return names
}

// Generator makes reports. It caches the current day, so walking the indexes
// in order costs one date format and one small RNG per day.
// A Generator is not safe for concurrent use.
type Generator struct {
	seed     uint64
	names    []string
	kinds    []kind         // how each station's temperature is made
	index    map[string]int // station id -> its place in a day
	keys     [][]byte       // the record keys: the ids' bytes, made once
	day      int64
	dayStart int64 // index of the day's first report
	date     string
	degrees  []float64
}

// kind is how a station's temperature is made.
type kind uint8

const (
	drawn     kind = iota // N(30, 15)
	constant5             // StationI: always 5.0
	dayMod10              // StationJ: the day index mod 10
)

// New returns a Generator of the original's ten stations for seed.
func New(seed uint64) *Generator {
	g, _ := NewStations(seed, int(NumStations))
	return g
}

// NewStations returns a Generator of n stations (1 to MaxStations) for seed.
func NewStations(seed uint64, n int) (*Generator, error) {
	if n < 1 || n > MaxStations {
		return nil, fmt.Errorf("stations %d: want 1 to %d", n, MaxStations)
	}
	g := &Generator{seed: seed, names: Names(n), kinds: make([]kind, n), index: make(map[string]int, n),
		keys: make([][]byte, n), day: -1, dayStart: -1, degrees: make([]float64, n)}
	for i, name := range g.names {
		g.index[name] = i
		g.keys[i] = []byte(name)
		switch name {
		case "StationI":
			g.kinds[i] = constant5
		case "StationJ":
			g.kinds[i] = dayMod10
		}
	}
	return g, nil
}

// Stations is the number of stations of the stream.
func (g *Generator) Stations() int64 { return int64(len(g.names)) }

// Key is the record key of report index: its station id's bytes, shared.
func (g *Generator) Key(index int64) []byte { return g.keys[index%g.Stations()] }

// Fill sets r to the report at index (index >= 0).
func (g *Generator) Fill(index int64, r *reportpb.Report) {
	station := index - g.dayStart // in the current day: no division
	if g.dayStart < 0 || station < 0 || station >= g.Stations() {
		g.setDay(index / g.Stations())
		station = index - g.dayStart
	}
	r.Date = g.date
	r.Degrees = g.degrees[station]
	r.StationId = g.names[station]
}

// Report returns a new report for index.
func (g *Generator) Report(index int64) *reportpb.Report {
	r := new(reportpb.Report)
	g.Fill(index, r)
	return r
}

// setDay computes the day's temperatures. Each day has its own RNG stream,
// derived from (seed, day), so any day can be computed without the ones
// before it. StationI is always 5.0 and StationJ the day index mod 10 (as
// in the original); every other station draws from N(30, 15), in order.
func (g *Generator) setDay(day int64) {
	rng := rand.New(rand.NewPCG(g.seed, uint64(day)))
	for i, k := range g.kinds {
		switch k {
		case constant5:
			g.degrees[i] = 5
		case dayMod10:
			g.degrees[i] = float64(day % 10)
		default:
			g.degrees[i] = 30 + 15*rng.NormFloat64()
		}
	}
	g.day, g.dayStart = day, day*g.Stations()
	g.date = Epoch.AddDate(0, 0, int(day)).Format(DateLayout)
}

// Index returns the stream index of the report of station on date; it is the
// inverse of Fill for the date and station.
func (g *Generator) Index(date, station string) (int64, error) {
	t, err := time.Parse(DateLayout, date)
	if err != nil {
		return 0, fmt.Errorf("date %q: %w", date, err)
	}
	if t.Before(Epoch) {
		return 0, fmt.Errorf("date %s is before the first day %s", date, Epoch.Format(DateLayout))
	}
	i, ok := g.index[station]
	if !ok {
		return 0, fmt.Errorf("unknown station %q", station)
	}
	// Via Unix seconds: a time.Duration overflows after 292 years.
	day := (t.Unix() - Epoch.Unix()) / 86400
	return day*g.Stations() + int64(i), nil
}

// original is the generator of the original's stations, for Index.
var original = New(0)

// Index is Generator.Index for the original's ten stations.
func Index(date, station string) (int64, error) { return original.Index(date, station) }
