// Package codec turns reports into record values and back. Decoding validates
// what a consumer relies on, so that a bad record is rejected once, with a
// reason, instead of poisoning the stats.
package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/generator"
)

// Encode appends the wire form of r to dst: the bytes proto.Marshal writes
// (fields in number order, zero values left out, unknown fields last),
// without its reflection.
func Encode(dst []byte, r *reportpb.Report) ([]byte, error) {
	if !utf8.ValidString(r.Date) || !utf8.ValidString(r.StationId) {
		return dst, errors.New("string field contains invalid UTF-8")
	}
	unknown := r.ProtoReflect().GetUnknown()
	bits := math.Float64bits(r.Degrees)
	size := len(unknown)
	if r.Date != "" {
		size += 1 + protowire.SizeBytes(len(r.Date))
	}
	if bits != 0 {
		size += 1 + 8
	}
	if r.StationId != "" {
		size += 1 + protowire.SizeBytes(len(r.StationId))
	}
	dst = slices.Grow(dst, size)
	if r.Date != "" {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, r.Date)
	}
	if bits != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, bits)
	}
	if r.StationId != "" {
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendString(dst, r.StationId)
	}
	return append(dst, unknown...), nil
}

// Values encodes reports into shared chunks of memory rather than an
// allocation each (a chunk is freed once every value in it is): what a
// producer of many records wants. A value's capacity ends where it does, so
// appending to one cannot overwrite the next.
type Values struct{ chunk []byte }

// Encode returns the wire form of r, in the current chunk or a new one.
func (v *Values) Encode(r *reportpb.Report) ([]byte, error) {
	if cap(v.chunk)-len(v.chunk) < 256 { // a report is ~30 bytes
		v.chunk = make([]byte, 0, 64<<10)
	}
	start := len(v.chunk)
	var err error
	if v.chunk, err = Encode(v.chunk, r); err != nil {
		return nil, err
	}
	return v.chunk[start:len(v.chunk):len(v.chunk)], nil
}

// Reasons a record is rejected; a metric label each.
var (
	ErrNoKey       = errors.New("record has no key")
	ErrUndecodable = errors.New("value is not a Report")
	ErrKeyMismatch = errors.New("key differs from station_id")
	ErrBadDate     = errors.New("date is not YYYY-MM-DD")
	ErrBadDegrees  = errors.New("degrees is not a finite number")
)

// labels are the metric labels of the reasons, in a fixed order.
var labels = []struct {
	err   error
	label string
}{
	{ErrNoKey, "no_key"},
	{ErrUndecodable, "undecodable"},
	{ErrKeyMismatch, "key_mismatch"},
	{ErrBadDate, "bad_date"},
	{ErrBadDegrees, "bad_degrees"},
}

// Reason returns a short label for a Decode error, for metrics: one of
// Reasons.
func Reason(err error) string {
	for _, l := range labels {
		if errors.Is(err, l.err) {
			return l.label
		}
	}
	return "other"
}

// Reasons are every label Reason returns, so that a metric can start each
// at 0 (an alert on its increase then sees the first bad record).
func Reasons() []string {
	out := make([]string, 0, len(labels)+1)
	for _, l := range labels {
		out = append(out, l.label)
	}
	return append(out, "other")
}

// Fields are a record's report as views into the record's own bytes (valid
// while they are), as a Parser reads them.
type Fields struct {
	Date      []byte // YYYY-MM-DD
	StationID []byte
	Degrees   float64
}

// A Parser reads and checks records' reports without copying or allocating.
// It remembers the last date it found valid: records come in date order, and
// a date seen just before needs no second look. The zero Parser is ready; it
// is not safe for concurrent use.
type Parser struct {
	last   [10]byte
	hasOne bool
}

// Parse reads a record's key and value and checks them: the key is the
// station id, the date is a real calendar date, the degrees are finite. It
// reads the three fields of a Report straight off the wire: what
// proto.Unmarshal accepts, it accepts (unknown fields are skipped, a
// repeated field's last value wins). The Fields are returned by value: no
// pointer is written to the heap on this per-record path.
func (p *Parser) Parse(key, value []byte) (Fields, error) {
	if len(key) == 0 {
		return Fields{}, ErrNoKey
	}
	date, station, degrees, ok := producerLayout(value)
	for b := value; !ok && len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Fields{}, fmt.Errorf("%w: %w", ErrUndecodable, protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return Fields{}, fmt.Errorf("%w: field number %d", ErrUndecodable, num)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			if date != nil && !utf8.Valid(date) { // repeated: proto.Unmarshal checks every one
				return Fields{}, fmt.Errorf("%w: string field contains invalid UTF-8", ErrUndecodable)
			}
			date, n = protowire.ConsumeBytes(b)
		case num == 2 && typ == protowire.Fixed64Type:
			var bits uint64
			bits, n = protowire.ConsumeFixed64(b)
			degrees = math.Float64frombits(bits)
		case num == 3 && typ == protowire.BytesType:
			if station != nil && !utf8.Valid(station) {
				return Fields{}, fmt.Errorf("%w: string field contains invalid UTF-8", ErrUndecodable)
			}
			station, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return Fields{}, fmt.Errorf("%w: %w", ErrUndecodable, protowire.ParseError(n))
		}
		b = b[n:]
	}
	// The checks in proto.Unmarshal's order of reasons: invalid UTF-8,
	// then the key, then the date. A date that passes validDate is ASCII,
	// so valid UTF-8; a station id is looked at byte by byte only if it is
	// not plain ASCII.
	seen := p.hasOne && string(date) == string(p.last[:])
	dateOK := seen || validDate(date)
	if !ascii(station) && !utf8.Valid(station) || !dateOK && !utf8.Valid(date) {
		return Fields{}, fmt.Errorf("%w: string field contains invalid UTF-8", ErrUndecodable)
	}
	if !bytes.Equal(station, key) {
		return Fields{}, fmt.Errorf("%w: key %q, station_id %q", ErrKeyMismatch, key, station)
	}
	if !dateOK {
		return Fields{}, fmt.Errorf("%w: %q", ErrBadDate, date)
	}
	if !seen {
		copy(p.last[:], date)
		p.hasOne = true
	}
	if math.IsNaN(degrees) || math.IsInf(degrees, 0) {
		return Fields{}, fmt.Errorf("%w: %v", ErrBadDegrees, degrees)
	}
	return Fields{Date: date, StationID: station, Degrees: degrees}, nil
}

// producerLayout reads value if it has the bytes Encode writes for a report
// with a date, non-zero degrees and a station id under 128 bytes — every
// report of the producer: tag and length of the date, its 10 bytes, tag and
// 8 bytes of degrees, tag and length of the station id, its bytes. Read so,
// it is what the field-by-field reading gives (fuzz-checked), at a fraction
// of its cost on the consumer's per-record path.
func producerLayout(v []byte) (date, station []byte, degrees float64, ok bool) {
	const head = 2 + 10 + 1 + 8 + 2 // the bytes before the station id
	if len(v) < head || v[0] != 1<<3|2 || v[1] != 10 || v[12] != 2<<3|1 || v[21] != 3<<3|2 || int(v[22]) != len(v)-head {
		return nil, nil, 0, false
	}
	return v[2:12], v[head:], math.Float64frombits(binary.LittleEndian.Uint64(v[13:21])), true
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Decode parses a record's key and value into r and checks it, as Parse
// does. It allocates only when r's strings change: the station ids of the
// stream are interned and a date is copied once per run of records of the
// same day.
func Decode(key, value []byte, r *reportpb.Report) error {
	var p Parser
	f, err := p.Parse(key, value)
	if err != nil {
		return err
	}
	if r.StationId != string(f.StationID) {
		r.StationId = stationID(f.StationID)
	}
	if r.Date != string(f.Date) {
		r.Date = string(f.Date)
	}
	r.Degrees = f.Degrees
	return nil
}

// stationID returns the id in b: one of generator.Stations ("StationA" …
// "StationJ", in that order) without a copy, any other id copied.
func stationID(b []byte) string {
	if len(b) == 8 {
		if i := int(b[7]) - 'A'; i >= 0 && i < len(generator.Stations) && string(b) == generator.Stations[i] {
			return generator.Stations[i]
		}
	}
	return string(b)
}

// validDate reports whether s is a calendar date YYYY-MM-DD: what
// time.Parse(time.DateOnly, s) accepts, at a fraction of its cost.
func validDate(s []byte) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	n := 0
	for i := range len(s) {
		if i == 4 || i == 7 {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	year, month, day := n/10000, n/100%100, n%100
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	switch month {
	case 4, 6, 9, 11:
		return day <= 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return day <= 29
		}
		return day <= 28
	}
	return day <= 31
}
