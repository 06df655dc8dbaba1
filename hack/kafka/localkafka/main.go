// Command localkafka is the embedded broker of `make run`: one in-process
// franz-go kfake broker on a fixed loopback port, its log persisted to a
// directory so that a restart keeps the topic (and so the checkpoints stay
// valid). It is for running the pipeline on a laptop, not for production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/embeddedkafka"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "listen address (kfake binds loopback only)")
	dir := flag.String("data", "data/kafka", "directory of the broker's log")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("service", "localkafka")

	_, portText, err := net.SplitHostPort(*addr)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		fmt.Fprintf(os.Stderr, "localkafka: -addr %q: want host:port\n", *addr)
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "localkafka: %v\n", err)
		os.Exit(1)
	}
	lock, err := lockDir(*dir, *addr)
	if errors.Is(err, errDirInUse) {
		fmt.Fprintf(os.Stderr, "localkafka: %v\n", err)
		os.Exit(2) // as a port in use: the run's settings clash with another's
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "localkafka: %v\n", err)
		os.Exit(1)
	}
	defer lock.Close()
	cluster, err := start(context.Background(), log, port, *dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "localkafka: %v\n", err)
		os.Exit(1)
	}
	log.Info("embedded Kafka broker (kfake) ready", "addr", cluster.ListenAddrs()[0], "data", *dir)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	cluster.Close()
	if n := removeTemps(*dir); n > 0 {
		log.Warn("removed temporary files of writes that failed (a full disk?)", "files", n)
	}
	log.Info("stopped")
}

// start runs the broker on its data directory and repairs what a crash left.
func start(ctx context.Context, log *slog.Logger, port int, dir string) (*kfake.Cluster, error) {
	cluster, err := embeddedkafka.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(dir),
		kfake.SyncWrites(), // a kill -9 of the broker loses nothing acknowledged
		kfake.WithLogger(kfakeLogger{log}),
	)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err == nil {
		err = repair(ctx, log, client)
		client.Close()
	}
	if err != nil {
		cluster.Close()
		return nil, err
	}
	return cluster, nil
}
