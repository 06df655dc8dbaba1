// Package checkpointwatch follows a stats consumer's checkpoint files from
// outside, as any reader of them would: which offset each holds, and when
// it was first seen holding it.
package checkpointwatch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Watch follows a stats consumer's checkpoint files from outside, as any
// reader of them would. The consumer replaces a file by renaming a new one
// over it; inotify reports each rename (IN_MOVED_TO) as it happens, and the
// watch then reads the file's offset and notes when it saw it. (Polling the
// files' inodes misses replacements: a freed inode number is soon reused.)
// As a safety net it also reads every file every 100 ms.
type Watch struct {
	dir   string
	parts []int32
	file  *os.File // inotify

	mu       sync.Mutex
	off      map[int32]int64
	gen      map[int32]int // replacements seen, per partition
	genAt    map[int32]time.Time
	hist     map[int32][]seen // per partition, offsets in the order seen
	firstAt  time.Time        // the first replacement seen
	firstSum int64            // and the offsets' sum then
	lastScan time.Time
}

// seen is a checkpoint with offset, first seen at t.
type seen struct {
	offset int64
	t      time.Time
}

// New watches dir (creating it) for the files of parts.
func New(dir string, parts []int32) (*Watch, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_TO|syscall.IN_CLOSE_WRITE); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify %s: %w", dir, err)
	}
	w := &Watch{dir: dir, parts: parts, file: os.NewFile(uintptr(fd), "inotify"),
		off: map[int32]int64{}, gen: map[int32]int{}, genAt: map[int32]time.Time{}, hist: map[int32][]seen{}}
	w.Scan()
	go w.run()
	return w, nil
}

// Close stops the watch.
func (w *Watch) Close() { w.file.Close() }

// Path is partition p's file.
func (w *Watch) Path(p int32) string {
	return filepath.Join(w.dir, fmt.Sprintf("partition-%d.json", p))
}

// run reads inotify events until Close.
func (w *Watch) run() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			return
		}
		for b := buf[:n]; len(b) >= syscall.SizeofInotifyEvent; {
			mask := binary.NativeEndian.Uint32(b[4:8])
			nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
			name := strings.TrimRight(string(b[syscall.SizeofInotifyEvent:syscall.SizeofInotifyEvent+nameLen]), "\x00")
			b = b[syscall.SizeofInotifyEvent+nameLen:]
			if mask&syscall.IN_Q_OVERFLOW != 0 {
				w.Scan()
				continue
			}
			var p int32
			if _, err := fmt.Sscanf(name, "partition-%d.json", &p); err == nil && name == fmt.Sprintf("partition-%d.json", p) {
				w.read(p, true)
			}
		}
	}
}

// read reads partition p's file and notes its offset; replaced says the
// file was just replaced.
func (w *Watch) read(p int32, replaced bool) {
	data, err := os.ReadFile(w.Path(p))
	now := time.Now()
	if err != nil {
		return
	}
	off, err := fileOffset(data)
	if err != nil {
		return // cannot happen with an atomic rename; skip it if it does
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if replaced {
		w.gen[p]++
		w.genAt[p] = now
	}
	if h := w.hist[p]; len(h) == 0 || off > h[len(h)-1].offset {
		w.off[p] = off
		w.hist[p] = append(h, seen{off, now})
	}
	if replaced && w.firstAt.IsZero() {
		w.firstAt = now
		for _, o := range w.off {
			w.firstSum += o
		}
	}
}

// Scan reads every file.
func (w *Watch) Scan() {
	for _, p := range w.parts {
		w.read(p, false)
	}
	w.mu.Lock()
	w.lastScan = time.Now()
	w.mu.Unlock()
}

// Poll reads every file if the last scan is 100 ms old: a safety net under
// the events.
func (w *Watch) Poll() {
	w.mu.Lock()
	due := time.Since(w.lastScan) >= 100*time.Millisecond
	w.mu.Unlock()
	if due {
		w.Scan()
	}
}

// Offsets returns the files' current offsets (a missing file is 0) and their sum.
func (w *Watch) Offsets() (map[int32]int64, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, sum := map[int32]int64{}, int64(0)
	for _, p := range w.parts {
		m[p] = w.off[p]
		sum += w.off[p]
	}
	return m, sum
}

// Generations returns how many times each file was seen replaced.
func (w *Watch) Generations() map[int32]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[int32]int{}
	for p, g := range w.gen {
		m[p] = g
	}
	return m
}

// NewSince returns the first file replaced since gens (a Generations
// snapshot) whose offset is now past offs, and when it was seen.
func (w *Watch) NewSince(gens map[int32]int, offs map[int32]int64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for _, p := range w.parts {
		if w.gen[p] > gens[p] && w.off[p] > offs[p] && (first.IsZero() || w.genAt[p].Before(first)) {
			first = w.genAt[p]
		}
	}
	return first, !first.IsZero()
}

// First returns when the first replacement was seen and the offsets' sum then.
func (w *Watch) First() (time.Time, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstAt, w.firstSum
}

// ReachedAt returns when every file was first seen at its end offset.
func (w *Watch) ReachedAt(ends map[int32]int64) time.Time {
	var last time.Time
	for _, p := range w.parts {
		if ends[p] == 0 {
			continue
		}
		if t, ok := w.At(p, ends[p]-1); ok && t.After(last) {
			last = t
		}
	}
	return last
}

// At reports when the checkpoint of partition p was first seen holding an
// offset past offset (the record at offset was then in the stats), if it was.
func (w *Watch) At(p int32, offset int64) (time.Time, bool) {
	w.mu.Lock()
	h := w.hist[p]
	w.mu.Unlock()
	i := sort.Search(len(h), func(i int) bool { return h[i].offset > offset })
	if i == len(h) {
		return time.Time{}, false
	}
	return h[i].t, true
}

// CaughtUp reports whether every file has reached its end offset.
func (w *Watch) CaughtUp(ends map[int32]int64) bool {
	offs, _ := w.Offsets()
	for _, p := range w.parts {
		if offs[p] < ends[p] {
			return false
		}
	}
	return true
}

// fileOffset reads the "offset" of a checkpoint file. The consumer writes it
// first ({\n  "offset": N,), so that is tried before a full JSON parse.
func fileOffset(data []byte) (int64, error) {
	const prefix = "{\n  \"offset\": "
	if bytes.HasPrefix(data, []byte(prefix)) {
		rest := data[len(prefix):]
		var n int64
		i := 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			n = n*10 + int64(rest[i]-'0')
		}
		if i > 0 && i < len(rest) && (rest[i] == ',' || rest[i] == '\n') {
			return n, nil
		}
	}
	var f struct {
		Offset *int64 `json:"offset"`
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Offset == nil {
		return 0, fmt.Errorf("not a checkpoint")
	}
	return *f.Offset, nil
}
