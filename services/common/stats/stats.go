// Package stats keeps the per-station statistics of one partition together
// with the offset they are complete up to and the log they come from, and
// reads and writes them in the partition-N.json format of the original
// assignment, exactly.
package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Station is what one partition has seen of one station.
type Station struct {
	Count int64   // days seen
	Sum   float64 // of degrees, added in offset order
	Start Date    // date of the first measurement, in offset order
	End   Date    // date of the last measurement, in offset order (a late report can make it earlier than Start)
}

// Date is a YYYY-MM-DD date, held by value: keeping the last date of every
// station costs no allocation per record.
type Date [10]byte

// DateOf returns the date s ("YYYY-MM-DD"), as Parse reads it.
func DateOf(s string) (Date, error) {
	var d Date
	if len(s) != len(d) {
		return d, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return d, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	copy(d[:], s)
	return d, nil
}

func (d Date) String() string { return string(d[:]) }

// Avg is Sum/Count.
func (s *Station) Avg() float64 { return s.Sum / float64(s.Count) }

// Partition is the state of one partition: the stats of every record before
// Offset, and nothing else. Offset is the next offset to read.
type Partition struct {
	Offset   int64
	Log      *Log // nil: a file in the original's format, which does not say
	Stations map[string]*Station

	sorted []string // the stations' names in order, as last frozen
}

// Log names the log a partition's stats come from. A recreated topic is
// another log (a new topic ID), as are another topic and another partition:
// an offset means nothing in another log.
type Log struct {
	Topic     string `json:"topic"`
	TopicID   string `json:"topic_id"` // as Kafka prints it; "" where the broker has no topic IDs
	Partition int32  `json:"partition"`
}

// Is reports whether l and o are the same log. A topic ID one of them does
// not know is not compared.
func (l Log) Is(o Log) bool {
	return l.Topic == o.Topic && l.Partition == o.Partition && (l.TopicID == o.TopicID || l.TopicID == "" || o.TopicID == "")
}

func (l Log) String() string {
	id := l.TopicID
	if id == "" {
		id = "unknown"
	}
	return fmt.Sprintf("topic %s (ID %s) partition %d", l.Topic, id, l.Partition)
}

// New returns an empty state that starts reading at offset.
func New(offset int64) *Partition {
	return &Partition{Offset: offset, Stations: make(map[string]*Station)}
}

// The keys of the file that are not stations.
const (
	offsetKey = "offset"
	logKey    = "log"
)

// Reasons Add refuses a measurement: the record is a bad one.
var (
	ErrReservedStation = errors.New(`station id "offset" or "log" is reserved for the file's own keys`)
	ErrNotFinite       = errors.New("the station's sum would no longer be a finite number")
)

// Reserved reports whether station is a name the file keeps for itself:
// such a report is never counted.
func Reserved(station []byte) bool {
	return string(station) == offsetKey || string(station) == logKey
}

// Add counts one measurement of finite degrees on date, a valid YYYY-MM-DD
// (as codec checks it). A measurement that would make a stat infinite (two
// of 1e308) is refused and changes nothing: a file must always be one the
// consumer can load. Add does not move Offset: the caller does, once per
// record, whether the record was counted or refused. It allocates only for
// a station it has not seen before.
func (p *Partition) Add(station, date []byte, degrees float64) error {
	if len(date) != len(Date{}) {
		return fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	s, ok := p.Stations[string(station)]
	if !ok {
		if Reserved(station) {
			return ErrReservedStation
		}
		s = &Station{}
		copy(s.Start[:], date)
	}
	sum := s.Sum + degrees
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		return ErrNotFinite
	}
	if !ok {
		p.Stations[string(station)] = s
	}
	s.Count++
	s.Sum = sum
	copy(s.End[:], date)
	return nil
}

// MarshalJSON writes the original's format exactly — "offset" and one
// object per station, nothing else — one station per line in name order, so
// that files diff well:
//
//	{
//	  "offset": 6816,
//	  "StationB": {"count": 2170, "sum": 66248.3, "avg": 30.53, "start": "2000-04-12", "end": "2006-03-21"}
//	}
//
// The log the stats come from is not in it (readers written for the
// original take every key but "offset" for a station): the checkpoint store
// keeps it beside the file, a snapshot around it. Floats are written in
// their shortest form that reads back exactly.
func (p *Partition) MarshalJSON() ([]byte, error) { return p.Freeze().MarshalJSON() }

// Frozen is a partition's state at one moment, for writing later while the
// partition moves on: Freeze costs a copy of the stations' numbers (no
// allocation per station, no formatting), so the fold loop pays for that
// and a checkpoint writer formats it elsewhere.
type Frozen struct {
	Offset int64
	names  []string  // sorted; shared with the partition (never changed in place)
	vals   []Station // vals[i] is names[i]'s
}

// Freeze copies the state now.
func (p *Partition) Freeze() Frozen {
	f := Frozen{Offset: p.Offset, names: p.sorted, vals: make([]Station, len(p.Stations))}
	if len(f.names) == len(p.Stations) {
		// The names cached are the map's if each is in it (as many of
		// them, none missing): copy as it checks.
		for i, name := range f.names {
			s, ok := p.Stations[name]
			if !ok {
				return p.refreeze()
			}
			f.vals[i] = *s
		}
		return f
	}
	return p.refreeze()
}

// refreeze is Freeze with the names sorted again: the set of stations only
// grows as records come (rarely, once warm), and sorting ten thousand names
// at every checkpoint was much of its cost.
func (p *Partition) refreeze() Frozen {
	names := make([]string, 0, len(p.Stations))
	for name := range p.Stations {
		names = append(names, name)
	}
	slices.Sort(names)
	p.sorted = names
	f := Frozen{Offset: p.Offset, names: names, vals: make([]Station, len(names))}
	for i, name := range names {
		f.vals[i] = *p.Stations[name]
	}
	return f
}

// MarshalJSON writes the frozen state in the file's format (see
// Partition.MarshalJSON).
func (f Frozen) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32+100*len(f.names))
	b = append(b, "{\n  \"offset\": "...)
	b = strconv.AppendInt(b, f.Offset, 10)
	for i, name := range f.names {
		s := &f.vals[i]
		b = append(b, ",\n  "...)
		b = appendString(b, name)
		b = append(b, `: {"count": `...)
		b = strconv.AppendInt(b, s.Count, 10)
		b = append(b, `, "sum": `...)
		b = appendFloat(b, s.Sum)
		b = append(b, `, "avg": `...)
		b = appendFloat(b, s.Avg())
		b = append(b, `, "start": "`...)
		b = append(b, s.Start[:]...)
		b = append(b, `", "end": "`...)
		b = append(b, s.End[:]...)
		b = append(b, `"}`...)
	}
	return append(b, "\n}\n"...), nil
}

// appendString quotes s as encoding/json does (which escapes <, > and &
// too): names of plain letters, digits and punctuation, every station of
// the stream, are copied as they are; any other goes through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat formats like encoding/json: plain decimals, exponent only for
// very small or very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// Parse reads a file written by MarshalJSON or by the original consumer (or
// by this consumer's previous release, with a "log" key: its Log) and checks
// that it is one: a file that is not exactly this
// shape is an error, never a silently empty or merged state. A key twice
// (two "offset"s, a station twice, a field of a station twice) is an error,
// not the last one winning — encoding/json/v2 refuses duplicate names — and
// the counts add up to at most the offset (each is of records below it), so
// no sum of them overflows.
func Parse(data []byte) (*Partition, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errors.New("not a JSON object")
	}
	p := New(0)
	var (
		hasOffset bool
		counted   int64 // the stations' counts so far
		bad       error // the first station that does not load
	)
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, notAnObject(err)
		}
		key := tok.String()
		raw, err := dec.ReadValue() // valid until the next read
		if err != nil {
			return nil, notAnObject(err)
		}
		switch key {
		case offsetKey:
			offset, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || offset < 0 {
				return nil, fmt.Errorf(`"offset" is %s, want an integer >= 0`, raw)
			}
			p.Offset, hasOffset = offset, true
		case logKey:
			if p.Log, err = parseLog(raw); err != nil {
				return nil, fmt.Errorf(`"log": %w`, err)
			}
		default:
			if bad != nil {
				continue
			}
			s, err := parseStation(raw)
			switch {
			case err != nil:
				bad = fmt.Errorf("station %q: %w", key, err)
			case s.Count > math.MaxInt64-counted:
				bad = fmt.Errorf("station %q: the counts add up to more than an int64 holds", key)
			default:
				counted += s.Count
				p.Stations[key] = s
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, notAnObject(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a JSON object: more after its end")
	}
	if !hasOffset {
		return nil, errors.New(`no "offset" key`) // not a checkpoint: say that first
	}
	if bad != nil {
		return nil, bad
	}
	if counted > p.Offset {
		return nil, fmt.Errorf("the stations count %d reports, more than the %d offsets below \"offset\"", counted, p.Offset)
	}
	return p, nil
}

// notAnObject names a syntax error, a key twice among them.
func notAnObject(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		if in := se.JSONPointer.Parent(); in != "" {
			return fmt.Errorf("%q: field %q twice", in.LastToken(), se.JSONPointer.LastToken())
		}
		return fmt.Errorf("key %q is in the file twice", se.JSONPointer.LastToken())
	}
	return fmt.Errorf("not a JSON object: %w", err)
}

// unmarshalStrict decodes an object of the file into v (a struct), refusing
// a field twice and a field v does not have, each named.
func unmarshalStrict(raw []byte, v any) error {
	err := jsonv2.Unmarshal(raw, v, jsonv2.RejectUnknownMembers(true), jsontext.AllowDuplicateNames(false))
	var (
		syntax   *jsontext.SyntacticError
		semantic *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &syntax) && errors.Is(syntax.Err, jsontext.ErrDuplicateName):
		return fmt.Errorf("field %q twice", syntax.JSONPointer.LastToken())
	case errors.As(err, &semantic) && errors.Is(semantic.Err, jsonv2.ErrUnknownName):
		return fmt.Errorf("unknown field %q", semantic.JSONPointer.LastToken())
	}
	return err
}

// MarshalJSON writes the log as the checkpoint store keeps it beside a
// partition file: {"topic": "temperatures", "topic_id": "…", "partition": 0}.
func (l Log) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"topic": `), appendString(nil, l.Topic)...)
	b = append(b, `, "topic_id": `...)
	b = appendString(b, l.TopicID)
	b = append(b, `, "partition": `...)
	b = strconv.AppendInt(b, int64(l.Partition), 10)
	return append(b, "}\n"...), nil
}

// ParseLog reads what Log.MarshalJSON writes, as strictly as Parse reads a
// partition file.
func ParseLog(data []byte) (*Log, error) { return parseLog(data) }

func parseLog(raw []byte) (*Log, error) {
	var l struct {
		Topic     *string `json:"topic"`
		TopicID   *string `json:"topic_id"`
		Partition *int32  `json:"partition"`
	}
	if err := unmarshalStrict(raw, &l); err != nil {
		return nil, err
	}
	if l.Topic == nil || *l.Topic == "" || l.TopicID == nil || l.Partition == nil || *l.Partition < 0 {
		return nil, errors.New("want topic, topic_id and partition >= 0")
	}
	return &Log{Topic: *l.Topic, TopicID: *l.TopicID, Partition: *l.Partition}, nil
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

func parseStation(raw []byte) (*Station, error) {
	var j stationJSON
	if err := unmarshalStrict(raw, &j); err != nil {
		return nil, err
	}
	if j.Count == nil || j.Sum == nil || j.Avg == nil || j.Start == nil || j.End == nil {
		return nil, errors.New("want count, sum, avg, start and end")
	}
	s := &Station{Count: *j.Count, Sum: *j.Sum}
	// Start and End are the first and last dates in offset order: a late
	// report makes End earlier than Start, and that is a valid file.
	var err error
	if s.Start, err = DateOf(*j.Start); err != nil {
		return nil, err
	}
	if s.End, err = DateOf(*j.End); err != nil {
		return nil, err
	}
	if s.Count < 1 {
		return nil, fmt.Errorf("count %d < 1", s.Count)
	}
	// avg is derived (written as sum/count); a file rounded to two
	// decimals, as the original's example is, still loads.
	if avg := s.Avg(); math.Abs(avg-*j.Avg) > math.Max(0.005, 1e-6*math.Abs(avg)) {
		return nil, fmt.Errorf("avg %v is not sum/count = %v", *j.Avg, avg)
	}
	return s, nil
}
