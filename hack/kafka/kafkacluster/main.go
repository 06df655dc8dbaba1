// Command kafkacluster runs a real N-node Kafka (KRaft) on loopback with
// Toxiproxy in front of every broker, until SIGINT or SIGTERM:
//
//	go run ./kafka/kafkacluster -nodes 3 -dir D     (from hack/; or: hack/kafka/kafka.sh cluster 3)
//
// stdout holds one line per node and then
// "brokers=<a,b,c> toxiproxy=<url>"; logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/weatherstream/weather/hack/kafka/cluster"
)

func main() {
	fs := flag.NewFlagSet("kafkacluster", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "number of KRaft nodes (each broker and controller), 1..9")
	dir := fs.String("dir", "", "root directory: node-<id>/ and toxiproxy.log (required; kept after exit)")
	libs := fs.String("libs", "", "Kafka jars (default <repo>/.cache/kafka/libs, from hack/kafka/kafka.sh install)")
	heap := fs.String("heap", "-Xmx512m -Xms256m", "JVM heap flags of every node")
	timeout := fs.Duration("start-timeout", 2*time.Minute, "how long the cluster may take to come up")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	// Flags are validated up front, exit 2 naming the flag, like the
	// services' variables.
	bad := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "kafkacluster: "+format+"\n", args...)
		os.Exit(2)
	}
	switch {
	case fs.NArg() > 0:
		bad("unexpected arguments %q", fs.Args())
	case *nodes < 1 || *nodes > 9:
		bad("-nodes %d: want 1..9", *nodes)
	case *dir == "":
		bad("-dir is required")
	case strings.TrimSpace(*heap) == "":
		bad("-heap is empty")
	case *timeout <= 0:
		bad("-start-timeout %v: want > 0", *timeout)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("service", "kafkacluster")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, *timeout)
	c, err := cluster.Start(startCtx, cluster.Options{Nodes: *nodes, Dir: *dir, Libs: *libs, Heap: *heap, Log: log})
	cancel()
	if err != nil {
		log.Error("cluster did not start", "err", err)
		os.Exit(1)
	}
	for _, n := range c.Nodes() {
		fmt.Printf("node=%d pid=%d client=%s internal=%s log=%s\n",
			n.ID, n.Pid(), n.Client().Listen, n.InterBroker().Listen, n.LogPath())
	}
	fmt.Printf("brokers=%s toxiproxy=%s\n", strings.Join(c.Brokers(), ","), c.ToxiproxyURL())
	<-ctx.Done()
	log.Info("stopping")
	if err := c.Close(); err != nil {
		log.Error("stop", "err", err)
		os.Exit(1)
	}
}
