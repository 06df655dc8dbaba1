// Package printer formats one record as one line for a person reading
// `kubectl logs`: the original's Python-dict style, or JSON.
package printer

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/weatherstream/weather/proto/reportpb"
)

// Line is one record: the report and where it was read.
type Line struct {
	Report    *reportpb.Report
	Partition int32
	Offset    int64
}

// Python formats like the original debug.py printing a dict:
//
//	{'station_id': 'StationC', 'date': '2008-12-17', 'degrees': 35.2621, 'partition': 2}
func Python(b []byte, l Line) []byte {
	b = append(b, "{'station_id': "...)
	b = pyString(b, l.Report.StationId)
	b = append(b, ", 'date': "...)
	b = pyString(b, l.Report.Date)
	b = append(b, ", 'degrees': "...)
	b = pyFloat(b, l.Report.Degrees)
	b = append(b, ", 'partition': "...)
	b = strconv.AppendInt(b, int64(l.Partition), 10)
	return append(b, "}\n"...)
}

// pyString quotes like Python's repr for the plain strings of a report.
func pyString(b []byte, s string) []byte {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	b = append(b, '\'')
	b = append(b, r.Replace(s)...)
	return append(b, '\'')
}

// pyFloat writes a float as Python's repr does: shortest round-trip digits,
// always with a decimal point or exponent (5.0, not 5).
func pyFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if !strings.ContainsAny(string(b[start:]), ".") {
		b = append(b, ".0"...)
	}
	return b
}

type jsonLine struct {
	StationID string  `json:"station_id"`
	Date      string  `json:"date"`
	Degrees   float64 `json:"degrees"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
}

// JSON formats one JSON object per line, with the offset too.
func JSON(b []byte, l Line) []byte {
	j, _ := json.Marshal(jsonLine{l.Report.StationId, l.Report.Date, l.Report.Degrees, l.Partition, l.Offset})
	return append(append(b, j...), '\n')
}
