// Command metricnames prints, as JSON, every metric the chart's alert rules
// and Grafana dashboard query, each with where it is used:
//
//	go run github.com/weatherstream/weather/charts/monitoring/metricnames -chart charts/weather
//
// services/integration runs it to compare them with real scrapes of the
// services (a module of its own, it does not link Prometheus' parser).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/weatherstream/weather/charts/monitoring"
)

func main() {
	chart := flag.String("chart", "weather", "the chart's directory")
	flag.Parse()
	names, err := monitoring.MetricNames(*chart)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metricnames:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(names); err != nil {
		fmt.Fprintln(os.Stderr, "metricnames:", err)
		os.Exit(1)
	}
}
