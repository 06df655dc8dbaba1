// Package checkpoint stores each partition's state in partition-N.json in one
// directory, so that the stats and the offset they are complete up to always
// change together: a reader or a restarted consumer sees the old file or the
// new one, never a mix and never a torn write. The file is the original
// assignment's format exactly; the log its stats come from (topic, topic ID,
// partition) is kept beside it, in partition-N.log.
package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weatherstream/weather/services/common/regularfile"
	"github.com/weatherstream/weather/services/common/stats"
)

// Store is a directory of partition files.
type Store struct{ dir string }

// MaxFileBytes bounds a partition file: ~300 bytes a station, so room for
// over 200,000 stations in one partition. A larger file is refused, not read
// (a 200 MB file once cost the dashboard 1.25 GB at every refresh).
const MaxFileBytes = 64 << 20

// FileMode is a partition file's mode: readable by all, as the original's
// files are (Python's open() under the usual umask 022), so a dashboard or a
// backup running as another user can read them; only the consumer writes.
// (os.CreateTemp would leave 0600.)
const FileMode = 0o644

// Open returns the store in dir, creating the directory if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Path is the file of partition p.
func (s *Store) Path(p int32) string {
	return filepath.Join(s.dir, fmt.Sprintf("partition-%d.json", p))
}

// Partitions are the partitions that have a file in the directory, in order.
func (s *Store) Partitions() ([]int32, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, "partition-*.json"))
	if err != nil {
		return nil, err
	}
	var parts []int32
	for _, name := range names {
		n, ok := strings.CutSuffix(strings.TrimPrefix(filepath.Base(name), "partition-"), ".json")
		p, err := strconv.ParseInt(n, 10, 32)
		if ok && err == nil && p >= 0 && filepath.Base(s.Path(int32(p))) == filepath.Base(name) {
			parts = append(parts, int32(p))
		}
	}
	slices.Sort(parts)
	return parts, nil
}

// LogPath is the file that names the log of partition p's stats.
func (s *Store) LogPath(p int32) string {
	return filepath.Join(s.dir, fmt.Sprintf("partition-%d.log", p))
}

// Load reads partition p's file, its Log from the file beside it (or from
// the file itself, as the previous release wrote it; nil for a file of the
// original, which does not say). No file is (nil, nil): the partition has
// never been checkpointed here. A file that cannot be read or is not a
// checkpoint is an error, and the file is left as it is for a person to
// look at.
func (s *Store) Load(p int32) (*stats.Partition, error) {
	data, err := regularfile.Read(s.Path(p), MaxFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", s.Path(p), err)
	}
	part, err := stats.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s is corrupt or not a checkpoint (left untouched): %w", s.Path(p), err)
	}
	log, err := s.loadLog(p)
	switch {
	case err != nil:
		return nil, err
	case log == nil:
	case part.Log != nil && !part.Log.Is(*log):
		return nil, fmt.Errorf("checkpoint %s says it is of %s, %s says %s (left untouched)", s.Path(p), part.Log, s.LogPath(p), log)
	default:
		part.Log = log
	}
	return part, nil
}

// Exact reports whether partition p's file holds part exactly as Save
// writes it (a file of the previous release, or of the original, does not).
func (s *Store) Exact(p int32, part *stats.Partition) bool {
	want, err := part.MarshalJSON()
	if err != nil {
		return false
	}
	got, err := regularfile.Read(s.Path(p), MaxFileBytes)
	return err == nil && bytes.Equal(got, want)
}

// loadLog reads partition-N.log; nil if there is none.
func (s *Store) loadLog(p int32) (*stats.Log, error) {
	data, err := regularfile.Read(s.LogPath(p), 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint log %s: %w", s.LogPath(p), err)
	}
	log, err := stats.ParseLog(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint log %s is corrupt (left untouched): %w", s.LogPath(p), err)
	}
	return log, nil
}

// SaveLog makes partition-N.log name log, replacing it as Save replaces a
// partition file, unless it already does. A consumer calls it once it has
// checked that the partition's state is log's, before it writes the state.
func (s *Store) SaveLog(p int32, log stats.Log) error {
	if old, err := s.loadLog(p); err == nil && old != nil && *old == log {
		return nil
	}
	data, _ := log.MarshalJSON() // cannot fail
	if err := s.replaceFile(s.LogPath(p), fmt.Sprintf("partition-%d.log.tmp-*", p), data); err != nil {
		return fmt.Errorf("checkpoint log of partition %d: %w", p, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("checkpoint: fsync directory: %w", err)
	}
	return nil
}

// Save replaces partition p's file with part: a uniquely named temporary file
// in the same directory is written and fsynced, renamed over the old file, and
// the directory fsynced, so the new version survives a machine crash too. On
// any error the old file is untouched and the temporary file removed.
func (s *Store) Save(p int32, part *stats.Partition) error {
	return s.SaveAll(map[int32]*stats.Partition{p: part})
}

// SaveAll saves several partitions as Save does: Write of their Snapshot.
func (s *Store) SaveAll(parts map[int32]*stats.Partition) error {
	snap, err := Take(parts).Snapshot()
	if err != nil {
		return err
	}
	return s.Write(snap)
}

// A Snapshot is partitions' states as their files will hold them: taken at
// one moment, written later (while the states move on) by Write.
type Snapshot map[int32][]byte

// Frozen are partitions' states at one moment, not formatted yet.
type Frozen map[int32]stats.Frozen

// Take freezes the partitions' states now: a copy of their numbers, cheap
// enough for the fold loop; Snapshot formats them, later and elsewhere.
func Take(parts map[int32]*stats.Partition) Frozen {
	f := make(Frozen, len(parts))
	for p, part := range parts {
		f[p] = part.Freeze()
	}
	return f
}

// Snapshot formats the frozen states as their files will hold them.
func (f Frozen) Snapshot() (Snapshot, error) {
	snap := make(Snapshot, len(f))
	for p, part := range f {
		data, err := part.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("checkpoint partition %d: %w", p, err)
		}
		snap[p] = data
	}
	return snap, nil
}

// Write replaces the snapshot's partition files as Save does, side by side,
// then fsyncs the directory once for all the renames. Each file on its own
// is old or new after a crash, never torn; on an error some files may be new
// and others old, each consistent.
func (s *Store) Write(snap Snapshot) error {
	errs := make(chan error, len(snap))
	for p, data := range snap {
		go func() { errs <- s.replace(p, data) }()
	}
	var first error
	for range snap {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("checkpoint: fsync directory: %w", err)
	}
	return nil
}

// replace writes partition p's new file and renames it into place.
func (s *Store) replace(p int32, data []byte) error {
	if err := s.replaceFile(s.Path(p), fmt.Sprintf("partition-%d.json.tmp-*", p), data); err != nil {
		return fmt.Errorf("checkpoint partition %d: %w", p, err)
	}
	return nil
}

// replaceFile writes data to a temporary file named by pattern, fsyncs it
// and renames it over path; on any error path is untouched and the
// temporary file removed.
func (s *Store) replaceFile(path, pattern string, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, pattern)
	if err != nil {
		return err
	}
	if err := writeAndSync(tmp, data); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

func writeAndSync(f *os.File, data []byte) error {
	err := f.Chmod(FileMode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Backup moves partition p's file aside to partition-N.json.bak-<time> (and
// partition-N.log to partition-N.log.bak-<time>) and returns the new name,
// so that a fresh start never destroys the old stats.
func (s *Store) Backup(p int32, now time.Time) (string, error) {
	stamp := now.UTC().Format("20060102T150405Z")
	to := fmt.Sprintf("%s.bak-%s", s.Path(p), stamp)
	if err := os.Rename(s.Path(p), to); err != nil {
		return "", fmt.Errorf("checkpoint backup: %w", err)
	}
	// The log it names goes with it (a file of the original has none).
	if err := os.Rename(s.LogPath(p), fmt.Sprintf("%s.bak-%s", s.LogPath(p), stamp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("checkpoint backup: %w", err)
	}
	return to, syncDir(s.dir)
}

// Lock is the exclusive ownership of one partition's file.
type Lock struct{ f *os.File }

// Unlock gives the partition up.
func (l *Lock) Unlock() error { return l.f.Close() } // closing releases the flock

// Held reports whether some consumer holds partition p's lock in the
// directory right now. A partition never consumed here has no lock file,
// and none is made for it.
func (s *Store) Held(p int32) bool {
	f, err := regularfile.Open(s.lockPath(p))
	if err != nil {
		return false
	}
	defer f.Close()
	// A shared lock is refused while the owner's exclusive one is held.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // closing releases it anyway
	return false
}

func (s *Store) lockPath(p int32) string {
	return filepath.Join(s.dir, fmt.Sprintf("partition-%d.lock", p))
}

// Lock takes partition p for this process, waiting up to wait for another
// owner to let go. The lock is an flock on partition-N.lock, so the kernel
// releases it when its owner dies, however it dies. While holding it, Lock
// removes temporary files that an owner killed mid-write left behind.
func (s *Store) Lock(ctx context.Context, p int32, wait time.Duration) (*Lock, error) {
	path := s.lockPath(p)
	f, err := openLock(path)
	if err != nil {
		return nil, fmt.Errorf("lock partition %d: %w", p, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock partition %d: %w", p, err)
		}
		if time.Now().After(deadline) {
			holder, _ := regularfile.ReadFrom(f, 4096)
			f.Close()
			return nil, fmt.Errorf("partition %d is owned by another consumer (%s holds %s); waited %s",
				p, strings.TrimSpace(string(holder)), path, wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	writeHolder(path)
	for _, pattern := range []string{"partition-%d.json.tmp-*", "partition-%d.log.tmp-*"} {
		stale, _ := filepath.Glob(filepath.Join(s.dir, fmt.Sprintf(pattern, p)))
		for _, name := range stale {
			os.Remove(name)
		}
	}
	return &Lock{f: f}, nil
}

// openLock opens (creating it) partition lock file path read-only: flock
// needs no write access, and a volume with no file open for writing can
// still be remounted read-only by its admin. It never follows a symlink (one
// in its place would have the consumer write its pid into whatever it points
// at) and never waits on a FIFO: anything but a regular file there is an
// error.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, FileMode)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink: a lock file must be a regular file (remove it)", path)
	}
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (remove it)", path)
	}
	return f, nil
}

// writeHolder writes who holds the lock into its file, for another
// consumer's error; best effort, never through a symlink.
func writeHolder(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return // a read-only volume: the error above says less, that is all
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		host, _ := os.Hostname()
		_, _ = fmt.Fprintf(f, "pid %d on %s\n", os.Getpid(), host)
	}
}

// Print writes every partition file of dir to w, each checked as the
// consumer would load it: `consumer print` in an image without a shell. A
// file that does not load is an error naming it (the others are printed).
func Print(w io.Writer, dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "partition-*.json"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no partition-N.json in %s yet", dir)
	}
	var bad []error
	for _, name := range names {
		data, err := regularfile.Read(name, MaxFileBytes)
		if err == nil {
			_, err = stats.Parse(data)
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", name, err))
			continue
		}
		fmt.Fprintf(w, "==> %s <==\n%s", name, data)
	}
	return errors.Join(bad...)
}
