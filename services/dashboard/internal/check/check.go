// Package check is `dashboard check`: a release's self-test (helm test). It
// asks a running dashboard's API until the pipeline shows it works — every
// partition checkpointed and of the topic, its checkpoints advancing (as the
// snapshots the dashboard follows show them; or all caught up), every lag
// within a bound — or a timeout passes.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Config is what the check asks for.
type Config struct {
	URL     string        // the dashboard, e.g. http://weather-dashboard:80
	MaxLag  int64         // the largest lag (offsets) a partition may have
	Timeout time.Duration // how long to wait for all of it
	Every   time.Duration // between two looks
}

// partitions is the part of /api/v1/partitions the check reads.
type partitions struct {
	KafkaError string `json:"kafka_error"`
	Partitions []struct {
		Partition int32  `json:"partition"`
		State     string `json:"state"`
		Error     string `json:"error"`
		Offset    *int64 `json:"offset"`
		Lag       *int64 `json:"lag"`
	} `json:"partitions"`
}

// Run looks every cfg.Every until the release works, and returns the line
// saying how, or the error saying what was still wrong at the timeout.
func Run(ctx context.Context, client *http.Client, cfg Config) (string, error) {
	// The deadline is looked at between looks, never inside one: a look cut
	// short by it would replace what was wrong with "deadline exceeded".
	began := time.Now()
	deadline := began.Add(cfg.Timeout)
	first := int64(-1) // the checkpoints' offsets, summed, at the first healthy look
	caughtUp := false  // every look since the first healthy one: lag 0, nothing new
	for {
		p, err := get(ctx, client, cfg.URL+"/api/v1/partitions")
		var why string
		if err == nil {
			var sum, maxLag int64
			if sum, maxLag, why = judge(p, cfg.MaxLag); why == "" {
				switch {
				case first < 0:
					first, caughtUp = sum, maxLag == 0
					why = "waiting to see the checkpoints advance"
				case sum > first:
					return fmt.Sprintf("ok: %d partitions checkpointed, the checkpoints advanced by %d offsets in %s, the largest lag %d (at most %d)",
						len(p.Partitions), sum-first, time.Since(began).Round(time.Second), maxLag, cfg.MaxLag), nil
				default:
					caughtUp = caughtUp && maxLag == 0
					why = fmt.Sprintf("the checkpoints have not advanced for %s while %d offsets wait", time.Since(began).Round(time.Second), maxLag)
				}
			} else {
				first, caughtUp = -1, false
			}
		} else {
			why = err.Error()
			first, caughtUp = -1, false
		}
		if !time.Now().Before(deadline) {
			// Nothing advanced, but nothing waited either: the producer
			// has nothing new (it reached its COUNT), and that works too.
			if first >= 0 && caughtUp {
				return fmt.Sprintf("ok: %d partitions checkpointed and caught up with the log (lag 0) for %s: the producer wrote nothing new",
					len(p.Partitions), cfg.Timeout), nil
			}
			return "", fmt.Errorf("not working after %s: %s", cfg.Timeout, why)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("stopped: %w (%s)", ctx.Err(), why)
		case <-time.After(min(cfg.Every, time.Until(deadline))):
		}
	}
}

// judge says what is wrong with p, or returns its offsets' sum and largest lag.
func judge(p partitions, maxLag int64) (sum, largest int64, why string) {
	if p.KafkaError != "" {
		return 0, 0, "the dashboard gets no answer from Kafka: " + p.KafkaError
	}
	if len(p.Partitions) == 0 {
		return 0, 0, "no partition yet"
	}
	var wrong []string
	for _, row := range p.Partitions {
		switch {
		case row.State != "ok":
			wrong = append(wrong, fmt.Sprintf("partition %d is %s %s", row.Partition, row.State, row.Error))
		case row.Offset == nil || row.Lag == nil:
			wrong = append(wrong, fmt.Sprintf("partition %d has no offset or lag yet", row.Partition))
		case *row.Lag > maxLag:
			wrong = append(wrong, fmt.Sprintf("partition %d lags %d offsets (at most %d)", row.Partition, *row.Lag, maxLag))
		default:
			sum += *row.Offset
			largest = max(largest, *row.Lag)
		}
	}
	return sum, largest, strings.Join(wrong, "; ")
}

func get(ctx context.Context, client *http.Client, url string) (partitions, error) {
	var p partitions
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return p, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return p, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return p, fmt.Errorf("GET %s: not the dashboard's JSON: %w", url, err)
	}
	return p, nil
}
