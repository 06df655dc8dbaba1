// Command etcd is the stock etcd server (go.etcd.io/etcd/server/v3/etcdmain),
// built from the Go module proxy because no etcd release binary can be fetched
// here. Debian's etcd-server 3.4 also works with the apiserver, but 3.6 is the
// line Kubernetes 1.34 is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
