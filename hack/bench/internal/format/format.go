// Package format writes the bench's figures as the table and the progress
// lines show them: counts, rates, durations, sizes.
package format

import (
	"fmt"
	"strings"
	"time"
)

// Count is a short count: 200000 as "200k", 5000000 as "5M".
func Count(n int64) string {
	switch {
	case n >= 1_000_000:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(n)/1e6), ".00") + "M"
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// Thousands formats 1234567 as "1,234,567".
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Rate is a rate per second, rounded, in thousands.
func Rate(perSec float64) string { return Thousands(int64(perSec + 0.5)) }

// Ms is a duration in ms, or in s from a second on.
func Ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

// Bytes is a size in B, KiB or MiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// MiB is bytes in MiB.
func MiB(bytes int64) float64 { return float64(bytes) / (1 << 20) }
