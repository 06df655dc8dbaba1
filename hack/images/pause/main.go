// Command pause is the pod sandbox's only process: it holds the pod's
// namespaces open, reaps the zombies that PID 1 of a shared PID namespace
// inherits, and exits cleanly on SIGTERM/SIGINT. It does what
// registry.k8s.io/pause does, for a cluster that cannot pull that image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child; one SIGCHLD can stand for several.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
