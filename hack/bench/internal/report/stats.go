package report

import (
	"fmt"
	"slices"
	"strings"
)

// median is the median of f over runs.
func median[T any](runs []T, f func(T) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// maxOf is the highest f over runs (0 if none).
func maxOf[T any](runs []T, f func(T) float64) float64 {
	m := 0.0
	for _, r := range runs {
		m = max(m, f(r))
	}
	return m
}

func ident(x float64) float64 { return x }

// pairRatios is fa(a[i]) / fb(b[i]) for the runs made in turns.
func pairRatios[T any](a, b []T, fa, fb func(T) float64) []float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if d := fb(b[i]); d > 0 {
			rs = append(rs, fa(a[i])/d)
		}
	}
	return rs
}

// ratioCell is the median ratio in bold, and each run's if there are several.
func ratioCell(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	cell := fmt.Sprintf("**%.2f×**", median(rs, ident))
	if len(rs) > 1 {
		each := make([]string, len(rs))
		for i, r := range rs {
			each[i] = fmt.Sprintf("%.2f", r)
		}
		cell += " (runs: " + strings.Join(each, ", ") + ")"
	}
	return cell
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func benchNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f", ns)
}
