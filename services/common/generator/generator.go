// Package generator produces the endless stream of daily station reports of
// the original assignment: from 2000-01-01, one report per station (StationA …
// StationJ, in that order) per day.
//
// Every report has an index: index = day*10 + station. The stream is a pure
// function of (seed, index), so a restarted producer can continue at any index
// and a test can recompute exactly what the pipeline must have seen.
package generator

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/weatherstream/weather/proto/reportpb"
)

// Stations are the station ids, in the order of a day's reports.
var Stations = [...]string{
	"StationA", "StationB", "StationC", "StationD", "StationE",
	"StationF", "StationG", "StationH", "StationI", "StationJ",
}

// NumStations is the number of reports per day.
const NumStations = int64(len(Stations))

// DateLayout is the layout of Report.Date.
const DateLayout = "2006-01-02"

// Epoch is the date of the first report.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Generator makes reports. It caches the current day, so walking the indexes
// in order costs one date format and one small RNG per ten reports.
// A Generator is not safe for concurrent use.
type Generator struct {
	seed    uint64
	day     int64
	date    string
	degrees [NumStations]float64
}

// New returns a Generator for seed.
func New(seed uint64) *Generator {
	return &Generator{seed: seed, day: -1}
}

// Fill sets r to the report at index (index >= 0).
func (g *Generator) Fill(index int64, r *reportpb.Report) {
	day, station := index/NumStations, index%NumStations
	if day != g.day {
		g.setDay(day)
	}
	r.Date = g.date
	r.Degrees = g.degrees[station]
	r.StationId = Stations[station]
}

// Report returns a new report for index.
func (g *Generator) Report(index int64) *reportpb.Report {
	r := new(reportpb.Report)
	g.Fill(index, r)
	return r
}

// setDay computes the day's temperatures. Each day has its own RNG stream,
// derived from (seed, day), so any day can be computed without the ones
// before it.
func (g *Generator) setDay(day int64) {
	rng := rand.New(rand.NewPCG(g.seed, uint64(day)))
	for i := range Stations {
		switch Stations[i] {
		case "StationI":
			g.degrees[i] = 5
		case "StationJ":
			g.degrees[i] = float64(day % 10)
		default:
			g.degrees[i] = 30 + 15*rng.NormFloat64()
		}
	}
	g.day = day
	g.date = Epoch.AddDate(0, 0, int(day)).Format(DateLayout)
}

// Index returns the stream index of the report of station on date; it is the
// inverse of Fill for the date and station.
func Index(date, station string) (int64, error) {
	t, err := time.Parse(DateLayout, date)
	if err != nil {
		return 0, fmt.Errorf("date %q: %w", date, err)
	}
	if t.Before(Epoch) {
		return 0, fmt.Errorf("date %s is before the first day %s", date, Epoch.Format(DateLayout))
	}
	for i, s := range Stations {
		if s == station {
			// Via Unix seconds: a time.Duration overflows after 292 years.
			day := (t.Unix() - Epoch.Unix()) / 86400
			return day*NumStations + int64(i), nil
		}
	}
	return 0, fmt.Errorf("unknown station %q", station)
}
