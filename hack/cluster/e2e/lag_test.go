package e2e

import "testing"

// TestLagLine: lagLine picks the lag series of a partition out of a
// /metrics page and nothing else.
func TestLagLine(t *testing.T) {
	for _, c := range []struct {
		line, partition, value string // partition "": no match
	}{
		{`weather_consumer_lag_records{partition="3"} 12`, "3", "12"},
		{`weather_consumer_lag_records{partition="0"} 0`, "0", "0"},
		{`weather_consumer_lag_records{pod="c-0",partition="11",topic="t"} 1.5e+06`, "11", "1.5e+06"},
		{`weather_consumer_lag_seconds{partition="0"} 1`, "", ""},
		{`weather_consumer_lag_records_total{partition="0"} 1`, "", ""},
		{`# HELP weather_consumer_lag_records Records in the log not yet in the partition's file.`, "", ""},
		{`# TYPE weather_consumer_lag_records gauge`, "", ""},
		{`weather_consumer_lag_records{partition="x"} 1`, "", ""},
	} {
		m := lagLine.FindStringSubmatch(c.line)
		switch {
		case c.partition == "" && m != nil:
			t.Errorf("%q matched: %q", c.line, m)
		case c.partition != "" && (m == nil || m[1] != c.partition || m[2] != c.value):
			t.Errorf("%q: got %q, want partition %s value %s", c.line, m, c.partition, c.value)
		}
	}
}
