// Package cluster runs a real multi-node Apache Kafka (KRaft, every node
// broker and controller) from the Maven Central jars hack/kafka/kafka.sh
// installs, on loopback, with Toxiproxy in front of every broker so that a
// fault campaign (or a person) can delay, cut, black-hole, reset or slow
// any client or inter-broker connection, and stop, pause and restart any node
// on its own data dir.
package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterID is the one cluster id every node is formatted with (kafka.sh's).
const ClusterID = "E49c5acNQN6_lz3TYxLoGw"

// readyTopic is created (RF = all nodes) and deleted by Start to prove the
// cluster can host fully replicated partitions.
const readyTopic = "_cluster-ready"

// Options configure Start. Zero values take the defaults.
type Options struct {
	Nodes int    // default 3
	Dir   string // root: node-<id>/ (server.properties, data/, kafka.log, pid) and toxiproxy.log
	// Libs is the jars dir; default <repo>/.cache/kafka/libs. Start does not
	// install them: a missing or stale dir is an error naming the command.
	Libs  string
	Heap  string // default "-Xmx512m -Xms256m"
	Java  string // default "java"
	Log4j string // default <repo>/hack/kafka/log4j2.properties (kafka.sh's)
	// ExtraProps are appended to every node's server.properties, after the
	// defaults, so that they override them (campaign tuning).
	ExtraProps map[string]string
	Log        *slog.Logger // default: discard
}

// Cluster is a running set of nodes and the toxiproxy server in front of them.
type Cluster struct {
	opts  Options
	log   *slog.Logger
	nodes []*Node

	toxi    *toxiserver.ApiServer
	http    *http.Server
	toxiURL string

	closeOnce sync.Once
	closeErr  error
}

// Start brings up toxiproxy and the proxies, formats and starts every node,
// and returns once every broker is registered and unfenced (each node's own
// metadata lists all of them) and a topic with a replica on every node can
// be created. On error, whatever was started is stopped again.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, log: o.Log}
	ok := false
	defer func() {
		if !ok {
			_ = c.Close()
		}
	}()
	if err := c.startToxiproxy(); err != nil {
		return nil, err
	}
	brokerPorts, err := freePorts(3 * o.Nodes)
	if err != nil {
		return nil, err
	}
	l := layout{Nodes: o.Nodes, Ports: map[int32]ports{}, Extra: o.ExtraProps}
	api := toxiproxy.NewClient(c.toxiURL)
	for i := range o.Nodes {
		id := int32(i + 1)
		p := ports{Client: brokerPorts[3*i], Internal: brokerPorts[3*i+1], Controller: brokerPorts[3*i+2]}
		n := &Node{ID: id, c: c, dir: filepath.Join(o.Dir, fmt.Sprintf("node-%d", id))}
		// Port 0: toxiproxy binds and keeps the port, so the advertised
		// addresses are known (and held) before any broker starts.
		if n.client, err = api.CreateProxy(fmt.Sprintf("kafka-%d", id), "127.0.0.1:0", loopback(p.Client)); err != nil {
			return nil, fmt.Errorf("toxiproxy: %w", err)
		}
		if n.interBroker, err = api.CreateProxy(fmt.Sprintf("kafka-%d-internal", id), "127.0.0.1:0", loopback(p.Internal)); err != nil {
			return nil, fmt.Errorf("toxiproxy: %w", err)
		}
		if p.ClientProxy, err = portOf(n.client.Listen); err != nil {
			return nil, err
		}
		if p.InternalProxy, err = portOf(n.interBroker.Listen); err != nil {
			return nil, err
		}
		l.Ports[id] = p
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		if err := c.format(ctx, l, n); err != nil {
			return nil, err
		}
	}
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			return nil, err
		}
	}
	ids := make([]int32, 0, len(c.nodes))
	for _, n := range c.nodes {
		ids = append(ids, n.ID)
	}
	if err := c.waitServing(ctx, c.nodes, ids); err != nil {
		return nil, err
	}
	if err := c.checkReplicated(ctx); err != nil {
		return nil, err
	}
	c.log.Info("cluster ready", "nodes", o.Nodes, "brokers", strings.Join(c.Brokers(), ","), "toxiproxy", c.toxiURL)
	ok = true
	return c, nil
}

func (o Options) withDefaults() (Options, error) {
	o.Nodes = cmp.Or(o.Nodes, 3)
	if o.Nodes < 1 {
		return o, fmt.Errorf("cluster: Nodes %d: want at least 1", o.Nodes)
	}
	if o.Dir == "" {
		return o, errors.New("cluster: Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = dir
	o.Heap = cmp.Or(o.Heap, "-Xmx512m -Xms256m")
	o.Java = cmp.Or(o.Java, "java")
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	pom := ""
	if repo, err := repoRoot(); err == nil {
		o.Libs = cmp.Or(o.Libs, filepath.Join(repo, ".cache", "kafka", "libs"))
		o.Log4j = cmp.Or(o.Log4j, filepath.Join(repo, "hack", "kafka", "log4j2.properties"))
		pom = filepath.Join(repo, "hack", "kafka", "pom.xml")
	} else if o.Libs == "" || o.Log4j == "" {
		return o, err
	}
	if err := checkLibs(o.Libs, pom); err != nil {
		return o, err
	}
	if _, err := os.Stat(o.Log4j); err != nil {
		return o, fmt.Errorf("cluster: Log4j: %w", err)
	}
	if _, err := exec.LookPath(o.Java); err != nil {
		return o, fmt.Errorf("cluster: Java %q: %w (need Java 17+)", o.Java, err)
	}
	return o, nil
}

// repoRoot is the first directory at or above the working directory holding
// hack/kafka/kafka.sh: tests run in their package's dir, the CLI from hack/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "kafka", "kafka.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cluster: not inside the weather repository (no hack/kafka/kafka.sh above the working directory); set Options.Libs and Options.Log4j")
		}
		dir = parent
	}
}

var pomVersion = regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`)

// checkLibs wants the jars kafka.sh install puts in libs, of the version its
// pom names (its .installed stamp says "kafka=<version> pom=<sha>"); pom ""
// (outside the repository) skips the version check.
func checkLibs(libs, pom string) error {
	const fix = "run hack/kafka/kafka.sh install"
	stamp, err := os.ReadFile(filepath.Join(libs, ".installed"))
	if err != nil {
		return fmt.Errorf("cluster: no Kafka jars in %s (%w): %s", libs, err, fix)
	}
	if pom == "" {
		return nil
	}
	text, err := os.ReadFile(pom)
	if err != nil {
		return err
	}
	if m := pomVersion.FindSubmatch(text); m != nil && !strings.HasPrefix(string(stamp), "kafka="+string(m[1])+" ") {
		return fmt.Errorf("cluster: the jars in %s are %q, hack/kafka/pom.xml wants Kafka %s: %s", libs, strings.TrimSpace(string(stamp)), m[1], fix)
	}
	return nil
}

// startToxiproxy runs toxiproxy's own API server in-process, on a loopback
// listener held from the start (no free-port race). It is the handler
// `toxiproxy-server` serves (ApiServer.Routes), so a fault injected here is
// the same HTTP call a person makes with toxiproxy-cli or curl.
func (c *Cluster) startToxiproxy() error {
	if err := os.MkdirAll(c.opts.Dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(c.opts.Dir, "toxiproxy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Warnings only: at info it logs every connection, and a campaign makes many.
	zlog := zerolog.New(logFile).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	c.toxi = toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zlog)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		logFile.Close()
		return fmt.Errorf("toxiproxy: %w", err)
	}
	c.toxiURL = "http://" + ln.Addr().String()
	c.http = &http.Server{Handler: c.toxi.Routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer logFile.Close()
		if err := c.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("toxiproxy API server stopped", "err", err)
		}
	}()
	return nil
}

// freePorts returns n distinct free loopback ports, all held until all are
// chosen. The brokers bind them a moment later: a small race with other
// processes, acceptable on a test machine (kafka.sh takes the same).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	held := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("toxiproxy listen address %q: %w", addr, err)
	}
	return strconv.Atoi(p)
}

// format writes node n's properties and formats its metadata log with the
// fixed cluster id; --ignore-formatted makes a reused Dir start again.
func (c *Cluster) format(ctx context.Context, l layout, n *Node) error {
	data := filepath.Join(n.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	props := filepath.Join(n.dir, "server.properties")
	if err := os.WriteFile(props, []byte(properties(l, n.ID, data)), 0o644); err != nil {
		return err
	}
	o := c.opts
	args := append(strings.Fields("-Xmx512m"),
		"-Dlog4j2.configurationFile="+o.Log4j, "-Dkafka.log.level=WARN", "-Dkafka.log.target=SYSTEM_ERR",
		"-cp", filepath.Join(o.Libs, "*"), "kafka.tools.StorageTool", "format",
		"--config", props, "--cluster-id", ClusterID, "--ignore-formatted")
	out, err := exec.CommandContext(ctx, o.Java, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("node %d: format: %w\n%s", n.ID, err, out)
	}
	return nil
}

// waitServing returns once every node of nodes answers a metadata request
// sent straight to its client proxy, and that metadata lists every broker
// of want as registered and unfenced (KRaft leaves fenced brokers out). It
// fails at once if one of the nodes exits.
func (c *Cluster) waitServing(ctx context.Context, nodes []*Node, want []int32) error {
	for _, n := range nodes {
		if err := n.waitServing(ctx, want); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) waitServing(ctx context.Context, want []int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.client.Listen))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for {
		if err := n.exitErr(); err != nil {
			return err
		}
		last = n.serves(ctx, cl, want)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d not serving: %w (last: %w)", n.ID, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) serves(ctx context.Context, cl *kgo.Client, want []int32) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return err
	}
	have := map[int32]bool{}
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		have[b.NodeID] = true
	}
	for _, id := range want {
		if !have[id] {
			return fmt.Errorf("node %d's metadata does not list broker %d yet", n.ID, id)
		}
	}
	return nil
}

// checkReplicated creates (and deletes again) a topic with a replica on
// every node: registered brokers that cannot host partitions would fail it.
func (c *Cluster) checkReplicated(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, int16(len(c.nodes)), nil, readyTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create %s with RF %d: %w", readyTopic, len(c.nodes), err)
	}
	if _, err := adm.DeleteTopic(ctx, readyTopic); err != nil {
		return fmt.Errorf("delete %s: %w", readyTopic, err)
	}
	return nil
}

// Brokers are the client bootstrap addresses: the client proxies' listen
// addresses, in node id order.
func (c *Cluster) Brokers() []string {
	addrs := make([]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		addrs = append(addrs, n.client.Listen)
	}
	return addrs
}

// Nodes are the nodes in id order, ids 1..N.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node is the node with id, or nil.
func (c *Cluster) Node(id int32) *Node {
	if id < 1 || int(id) > len(c.nodes) {
		return nil
	}
	return c.nodes[id-1]
}

// ToxiproxyURL is toxiproxy's HTTP API: toxiproxy-cli -h <url>, or curl.
func (c *Cluster) ToxiproxyURL() string { return c.toxiURL }

// Close stops every node (SIGTERM, all at once; SIGKILL after 30 s) and
// then the proxies and toxiproxy's API. Dir is left for the caller.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(c.nodes)+1)
		for i, n := range c.nodes {
			wg.Go(func() { errs[i] = n.stop() })
		}
		wg.Wait()
		if c.toxi != nil {
			// Stops every proxy's listener and its connections.
			errs = append(errs, c.toxi.Collection.Clear())
		}
		if c.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs[len(c.nodes)] = c.http.Shutdown(ctx)
			cancel()
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
