// Package stats keeps the per-station statistics of one partition together
// with the offset they are complete up to, and reads and writes them in the
// partition-N.json format of the original assignment.
package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Station is what one partition has seen of one station.
type Station struct {
	Count int64   // days seen
	Sum   float64 // of degrees, added in offset order
	Start string  // date of the first measurement
	End   string  // date of the last measurement
}

// Avg is Sum/Count.
func (s *Station) Avg() float64 { return s.Sum / float64(s.Count) }

// Partition is the state of one partition: the stats of every record before
// Offset, and nothing else. Offset is the next offset to read.
type Partition struct {
	Offset   int64
	Stations map[string]*Station
}

// New returns an empty state that starts reading at offset.
func New(offset int64) *Partition {
	return &Partition{Offset: offset, Stations: make(map[string]*Station)}
}

// offsetKey is the one key of the file that is not a station.
const offsetKey = "offset"

// ErrReservedStation rejects a station id that would collide with the
// file's "offset" key.
var ErrReservedStation = errors.New(`station id "offset" is reserved`)

// Add counts one measurement. It does not move Offset: the caller does, once
// per record, whether the record was counted or skipped.
func (p *Partition) Add(station, date string, degrees float64) error {
	s, ok := p.Stations[station]
	if !ok {
		if station == offsetKey {
			return ErrReservedStation
		}
		s = &Station{Start: date}
		p.Stations[station] = s
	}
	s.Count++
	s.Sum += degrees
	s.End = date
	return nil
}

// MarshalJSON writes the original's format, one station per line in name
// order, so that files diff well:
//
//	{
//	  "offset": 6816,
//	  "StationB": {"count": 2170, "sum": 66248.3, "avg": 30.53, "start": "2000-04-12", "end": "2006-03-21"}
//	}
//
// Floats are written in their shortest form that reads back exactly.
func (p *Partition) MarshalJSON() ([]byte, error) {
	names := make([]string, 0, len(p.Stations))
	for name := range p.Stations {
		names = append(names, name)
	}
	slices.Sort(names)

	b := make([]byte, 0, 64+100*len(names))
	b = append(b, "{\n  \"offset\": "...)
	b = strconv.AppendInt(b, p.Offset, 10)
	for _, name := range names {
		s := p.Stations[name]
		b = append(b, ",\n  "...)
		b = appendString(b, name)
		b = append(b, `: {"count": `...)
		b = strconv.AppendInt(b, s.Count, 10)
		b = append(b, `, "sum": `...)
		b = appendFloat(b, s.Sum)
		b = append(b, `, "avg": `...)
		b = appendFloat(b, s.Avg())
		b = append(b, `, "start": `...)
		b = appendString(b, s.Start)
		b = append(b, `, "end": `...)
		b = appendString(b, s.End)
		b = append(b, '}')
	}
	return append(b, "\n}\n"...), nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendFloat formats like encoding/json: plain decimals, exponent only for
// very small or very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// stationJSON is one station's object as stored; pointers tell a missing
// field from a zero one.
type stationJSON struct {
	Count *int64   `json:"count"`
	Sum   *float64 `json:"sum"`
	Avg   *float64 `json:"avg"`
	Start *string  `json:"start"`
	End   *string  `json:"end"`
}

// Parse reads a file written by MarshalJSON (or by the original consumer) and
// checks that it is one: a file that is not exactly this shape is an error,
// never a silently empty state.
func Parse(data []byte) (*Partition, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	raw, ok := fields[offsetKey]
	if !ok {
		return nil, errors.New(`no "offset" key`)
	}
	offset, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || offset < 0 {
		return nil, fmt.Errorf(`"offset" is %s, want an integer >= 0`, raw)
	}
	p := New(offset)
	for name, raw := range fields {
		if name == offsetKey {
			continue
		}
		s, err := parseStation(raw)
		if err != nil {
			return nil, fmt.Errorf("station %q: %w", name, err)
		}
		p.Stations[name] = s
	}
	return p, nil
}

func parseStation(raw json.RawMessage) (*Station, error) {
	var j stationJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, err
	}
	if j.Count == nil || j.Sum == nil || j.Avg == nil || j.Start == nil || j.End == nil {
		return nil, errors.New("want count, sum, avg, start and end")
	}
	s := &Station{Count: *j.Count, Sum: *j.Sum, Start: *j.Start, End: *j.End}
	if s.Count < 1 {
		return nil, fmt.Errorf("count %d < 1", s.Count)
	}
	for _, d := range []string{s.Start, s.End} {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("date %q is not YYYY-MM-DD", d)
		}
	}
	if s.Start > s.End {
		return nil, fmt.Errorf("start %s after end %s", s.Start, s.End)
	}
	if avg := s.Avg(); math.Abs(avg-*j.Avg) > 1e-6*math.Max(1, math.Abs(avg)) {
		return nil, fmt.Errorf("avg %v is not sum/count = %v", *j.Avg, avg)
	}
	return s, nil
}
