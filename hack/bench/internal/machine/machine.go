// Package machine describes where the bench ran — CPU, memory, OS, Java,
// the disk of the checkpoints, the load — and how much CPU other processes
// used meanwhile, which says whether the figures can be trusted.
package machine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Info is what the table says about where it ran.
type Info struct {
	CPU        string
	CPUs       int
	Memory     string
	OS, Kernel string
	GoVersion  string
	Java       string
	Kafka      string
	Disk       string // file system of the run directory (fsync cost depends on it)
	LoadStart  string
	LoadEnd    string
	// OtherCores is the CPU that processes other than the bench's used
	// during the run, in cores on average; -1 if unknown (a broker of
	// -brokers, whose CPU the bench cannot tell from others').
	OtherCores float64
}

// Describe is the machine now, with Kafka's version and the run directory
// dir.
func Describe(ctx context.Context, kafkaVersion, dir string) Info {
	m := Info{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Kafka: kafkaVersion, LoadStart: LoadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
			}
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "java", "-version").CombinedOutput(); err == nil {
		m.Java = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	m.Disk = fileSystem(dir)
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

// LoadAvg is the load average over 1, 5 and 15 minutes: "0.10 0.20 0.30".
func LoadAvg() string {
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

// QuietLimit is the CPU others may use beside the bench, in cores on
// average, for the run to count as on a quiet machine.
const QuietLimit = 0.15

// Noisy reports another job using the CPU during the run.
func (m Info) Noisy() bool { return m.OtherCores > QuietLimit }

// Busy reports a 1-minute load average above half the CPUs at the start.
func (m Info) Busy() bool {
	f := strings.Fields(m.LoadStart)
	if len(f) == 0 {
		return false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err == nil && l > float64(m.CPUs)/2
}

// Summary is the machine in one line.
func (m Info) Summary() string {
	return fmt.Sprintf("%d × %s, %s RAM, %s (Linux %s), %s, %s, Kafka %s, run dir on %s",
		m.CPUs, m.CPU, m.Memory, m.OS, m.Kernel, m.GoVersion, m.Java, m.Kafka, m.Disk)
}

// CPUUse is CPU time spent so far: by the whole machine, and by the bench's
// own processes (itself, its children once they are reaped, and the broker
// it started, which is not its child).
type CPUUse struct {
	machine, bench time.Duration
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 10 * time.Millisecond

// MeasureCPU is the CPU used so far, the broker's (if brokerPID > 0)
// counted as the bench's.
func MeasureCPU(brokerPID int) CPUUse {
	var u CPUUse
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...
		f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
		for i, v := range f {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && i >= 1 && i != 4 && i != 5 && i <= 8 {
				u.machine += time.Duration(n) * clockTick
			}
		}
	}
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	for _, r := range []syscall.Rusage{self, children} {
		u.bench += time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	if brokerPID > 0 {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", brokerPID)); err == nil {
			// After the command's ")": state is field 3; utime, stime 14, 15.
			if i := strings.LastIndexByte(string(data), ')'); i > 0 {
				f := strings.Fields(string(data)[i+1:])
				if len(f) > 12 {
					ut, _ := strconv.ParseInt(f[11], 10, 64)
					st, _ := strconv.ParseInt(f[12], 10, 64)
					u.bench += time.Duration(ut+st) * clockTick
				}
			}
		}
	}
	return u
}

// Others is the CPU the machine spent beside the bench's processes between
// start and end, as a number of cores kept busy on average over the run.
func Others(start, end CPUUse, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return max(0, float64((end.machine-start.machine)-(end.bench-start.bench))/float64(wall))
}
