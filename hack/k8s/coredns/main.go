// Command coredns is CoreDNS with only the plugins a single-node cluster's DNS
// needs, built from the Go module proxy (no image registry here). Trimming the
// plugin set (no cloud providers, etcd, dnstap, ...) keeps the build small and
// fast. The set covers kubeadm's stock Corefile (errors, health, ready,
// kubernetes, prometheus, forward, cache, loop, reload, loadbalance) plus
// log, hosts and template, so the cluster's Corefile can answer names outside
// cluster.local locally when there is no upstream resolver.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// Each import registers its plugin (directive) with the dns server type.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics" // the "prometheus" directive
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
)

// directives is the execution order of the plugins above. It MUST keep the
// relative order of upstream's plugin.cfg (core/dnsserver/zdirectives.go in
// the coredns module): a plugin sees the effects of all plugins after it.
var directives = []string{
	"reload",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"loadbalance",
	"cache",
	"template",
	"hosts",
	"kubernetes",
	"loop",
	"forward",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
