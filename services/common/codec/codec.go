// Package codec turns reports into record values and back. Decoding validates
// what a consumer relies on, so that a bad record is rejected once, with a
// reason, instead of poisoning the stats.
package codec

import (
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/weatherstream/weather/proto/reportpb"
)

// Encode appends the wire form of r to dst.
func Encode(dst []byte, r *reportpb.Report) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(dst, r)
}

// Reasons a record is rejected; a metric label each.
var (
	ErrNoKey       = errors.New("record has no key")
	ErrUndecodable = errors.New("value is not a Report")
	ErrKeyMismatch = errors.New("key differs from station_id")
	ErrBadDate     = errors.New("date is not YYYY-MM-DD")
	ErrBadDegrees  = errors.New("degrees is not a finite number")
)

// Reason returns a short label for a Decode error, for metrics.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrNoKey):
		return "no_key"
	case errors.Is(err, ErrUndecodable):
		return "undecodable"
	case errors.Is(err, ErrKeyMismatch):
		return "key_mismatch"
	case errors.Is(err, ErrBadDate):
		return "bad_date"
	case errors.Is(err, ErrBadDegrees):
		return "bad_degrees"
	}
	return "other"
}

// Decode parses a record's key and value into r and checks it: the key is the
// station id, the date is a real calendar date, the degrees are finite.
func Decode(key, value []byte, r *reportpb.Report) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	if err := proto.Unmarshal(value, r); err != nil {
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if r.StationId != string(key) {
		return fmt.Errorf("%w: key %q, station_id %q", ErrKeyMismatch, key, r.StationId)
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
		return fmt.Errorf("%w: %q", ErrBadDate, r.Date)
	}
	if math.IsNaN(r.Degrees) || math.IsInf(r.Degrees, 0) {
		return fmt.Errorf("%w: %v", ErrBadDegrees, r.Degrees)
	}
	return nil
}
