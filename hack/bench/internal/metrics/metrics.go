// Package metrics reads what the services' /metrics pages say: an
// unlabelled value, or a histogram with its quantiles.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Value returns the value of an unlabelled metric at url.
func Value(url, name string) (float64, error) {
	v, found := 0.0, false
	err := scrape(url, func(f []string) {
		if len(f) == 2 && f[0] == name {
			var err error
			v, err = strconv.ParseFloat(f[1], 64)
			found = err == nil
		}
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s", url, name)
	}
	return v, nil
}

// Histogram is a Prometheus histogram as scraped.
type Histogram struct {
	buckets []bucket // by upper bound; cumulative counts
	Sum     float64
	Count   float64
}

type bucket struct{ le, count float64 }

// Scrape reads the histogram name at url.
func Scrape(url, name string) (Histogram, error) {
	var h Histogram
	err := scrape(url, func(f []string) {
		if len(f) != 2 {
			return
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(f[0], name+"_bucket{le=\""):
			le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(f[0], name+"_bucket{le=\""), "\"}"), 64)
			if err == nil {
				h.buckets = append(h.buckets, bucket{le, v})
			}
		case f[0] == name+"_sum":
			h.Sum = v
		case f[0] == name+"_count":
			h.Count = v
		}
	})
	if err != nil {
		return h, err
	}
	if h.Count == 0 || len(h.buckets) == 0 {
		return h, fmt.Errorf("%s: no %s histogram", url, name)
	}
	sort.Slice(h.buckets, func(i, j int) bool { return h.buckets[i].le < h.buckets[j].le })
	return h, nil
}

// scrape calls fn with the fields of each line of the page at url.
func scrape(url string, fn func(fields []string)) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	for l := range strings.Lines(string(body)) {
		fn(strings.Fields(l))
	}
	return nil
}

// Merge adds the counts of o (same buckets) to h.
func (h Histogram) Merge(o Histogram) Histogram {
	if len(h.buckets) == 0 {
		h.buckets = slices.Clone(o.buckets)
	} else {
		for i := range h.buckets {
			h.buckets[i].count += o.buckets[i].count
		}
	}
	h.Sum += o.Sum
	h.Count += o.Count
	return h
}

// Mean is the exact mean of the observations.
func (h Histogram) Mean() time.Duration { return time.Duration(h.Sum / h.Count * 1e9) }

// Quantile interpolates linearly within the bucket, as PromQL's
// histogram_quantile does.
func (h Histogram) Quantile(q float64) time.Duration {
	rank := q * h.Count
	prevLe, prevCount := 0.0, 0.0
	for _, b := range h.buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return time.Duration(prevLe * 1e9)
			}
			v := prevLe + (b.le-prevLe)*(rank-prevCount)/math.Max(b.count-prevCount, 1e-9)
			return time.Duration(v * 1e9)
		}
		prevLe, prevCount = b.le, b.count
	}
	return time.Duration(prevLe * 1e9)
}
