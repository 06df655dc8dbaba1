// Command dashboard serves the stats as a live web page and a JSON API: it
// follows the snapshot topic the stats consumers publish their partitions'
// states to (<topic>-snapshots; no volume, no file) and asks Kafka how far
// each partition's log goes, every REFRESH_INTERVAL.
//
//	dashboard -addr 127.0.0.1:8085   # then open http://127.0.0.1:8085/
//	curl http://127.0.0.1:8085/api/v1/stations
//	dashboard check -url http://weather-dashboard:80 -max-lag 10000 -timeout 2m   # helm test
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/envconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/service"
	"github.com/weatherstream/weather/services/dashboard/internal/check"
	"github.com/weatherstream/weather/services/dashboard/internal/follow"
	"github.com/weatherstream/weather/services/dashboard/internal/kafkalog"
	"github.com/weatherstream/weather/services/dashboard/internal/live"
	"github.com/weatherstream/weather/services/dashboard/internal/web"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:]))
	}
	service.Main("dashboard", loadConfig, run, func(c config, err error) error { return c.Kafka.Explain(err) })
}

// run serves the page and the API beside health and metrics, once the loop
// they show is made: on a server of its own, not observe.Start's.
func run(ctx context.Context, cfg config) error {
	log := observe.NewLogger(cfg.Observe.LogConfig, "dashboard")
	reg, metrics, kafkaHooks := observe.NewMetrics("dashboard", live.NewMetrics)
	// No wait for Kafka at start: the page shows why Kafka does not answer
	// while it is away.
	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	// Fresh metadata: the topic appears (the producer creates it) or is
	// recreated while the dashboard runs.
	client, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(250*time.Millisecond), kafkaHooks)...)
	if err != nil {
		return err
	}
	defer client.Close()
	// The follower's own client: its fetches long-poll, and would hold up
	// the raw fetches of the reports' tail on a shared connection.
	snapClient, err := kgo.NewClient(slices.Concat(opts, follow.ClientOpts(), []kgo.Opt{kgo.MetadataMinAge(250 * time.Millisecond)})...)
	if err != nil {
		return err
	}
	follower := follow.New(snapClient, cfg.Kafka.Topic, cfg.RefreshInterval, log, metrics.SnapshotRecords())
	var following sync.WaitGroup
	followCtx, stopFollowing := context.WithCancel(ctx)
	following.Go(func() { follower.Run(followCtx) })
	defer func() {
		stopFollowing()
		following.Wait()
		snapClient.Close()
	}()

	loop := live.New(live.Config{Topic: cfg.Kafka.Topic, Interval: cfg.RefreshInterval, History: cfg.History},
		follower, kafkalog.New(client, cfg.Kafka.Topic, cfg.TailRecords, cfg.LatestPerStation), log, metrics)
	var health observe.Health
	mux := observe.NewMux(reg, &health)
	web.Register(mux, loop, ctx.Done())
	addr, err := observe.ListenAndServe(ctx, cfg.Observe, mux, log)
	if err != nil {
		return err
	}
	log.Info("dashboard", "url", pageURL(addr), "topic", cfg.Kafka.Topic, "snapshots", follower.Topic())
	err = loop.Run(ctx, func() { health.Ready(true) })
	log.Info("stopped", "err", err)
	return err
}

// runCheck is `dashboard check`: the release's self-test against a running
// dashboard (the chart's helm test). Exit 0 when it works, 1 when it does
// not by the timeout, 2 on bad flags.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("dashboard check", flag.ContinueOnError)
	cfg := check.Config{}
	fs.StringVar(&cfg.URL, "url", "http://localhost:8080", "the dashboard to ask")
	fs.Int64Var(&cfg.MaxLag, "max-lag", 10_000, "the largest lag (offsets) a partition may have")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "how long to wait for the pipeline to show it works")
	fs.DurationVar(&cfg.Every, "every", 2*time.Second, "time between two looks")
	if err := fs.Parse(args); err != nil {
		return service.ExitBadConfig
	}
	if err := cmp.Or(envconfig.NoArgs(fs.Args()), envconfig.AtLeast("-max-lag", cfg.MaxLag, 0),
		envconfig.AtLeast("-timeout", cfg.Timeout, time.Second), envconfig.AtLeast("-every", cfg.Every, 10*time.Millisecond)); err != nil {
		fmt.Fprintf(os.Stderr, "dashboard check: %v\n", err)
		return service.ExitBadConfig
	}
	ctx, stop := service.WithStopSignals(context.Background())
	defer stop()
	ok, err := check.Run(ctx, &http.Client{Timeout: 10 * time.Second}, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dashboard check: %v\n", err)
		return service.ExitFailed
	}
	fmt.Println("dashboard check:", ok)
	return service.ExitOK
}

// pageURL is where a person on this machine opens the page.
func pageURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
