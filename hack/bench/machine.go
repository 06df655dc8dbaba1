package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo is what the table says about where it ran.
type machineInfo struct {
	cpu        string
	cpus       int
	memory     string
	os, kernel string
	goVersion  string
	java       string
	kafka      string
	disk       string // file system of the run directory (fsync cost depends on it)
	loadStart  string
	loadEnd    string
}

func machine(ctx context.Context, b *bench) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVersion: runtime.Version(), kafka: b.kafkaVersion(), loadStart: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
			}
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.os = strings.Trim(v, `"`)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "java", "-version").CombinedOutput(); err == nil {
		m.java = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	m.disk = fileSystem(b.runDir)
	return m
}

// fileSystem names the mount holding path: "ext4 on /dev/vda".
func fileSystem(path string) string {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "?"
	}
	path, _ = filepath.Abs(path)
	best, fs := "", "?"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mnt := f[1]
		if (path == mnt || strings.HasPrefix(path, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) > len(best) {
			best, fs = mnt, f[2]+" on "+f[0]
		}
	}
	return fs
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// busy reports a 1-minute load average above half the CPUs at the start.
func (m machineInfo) busy() bool {
	f := strings.Fields(m.loadStart)
	if len(f) == 0 {
		return false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err == nil && l > float64(m.cpus)/2
}

func (m machineInfo) summary() string {
	return fmt.Sprintf("%d × %s, %s RAM, %s (Linux %s), %s, %s, Kafka %s, run dir on %s",
		m.cpus, m.cpu, m.memory, m.os, m.kernel, m.goVersion, m.java, m.kafka, m.disk)
}
