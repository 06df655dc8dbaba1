package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockName is the lock file in the log directory, as Kafka's own is.
const lockName = ".lock"

// errDirInUse is lockDir's error when another broker holds the directory.
var errDirInUse = errors.New("log directory in use")

// lockDir makes this process the one broker of the log directory dir: an
// exclusive flock on dir/.lock, which the kernel releases when the process
// ends, however it ends. A second broker on the same directory (a second
// make run with other ports) would write abort markers for the first one's
// open transaction and move its log aside under it; it is refused instead,
// with the holder's pid and address. The returned file must stay open.
func lockDir(dir, addr string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	// O_NOFOLLOW: a symlink put in its place is an error, never a file of
	// someone else's written to.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the log directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s holds %s; one broker per log directory: stop it first, or give this one another directory (make run: RUN_DATA)",
				errDirInUse, strings.TrimSpace(string(holder)), path)
		}
		return nil, fmt.Errorf("lock the log directory: %w", err)
	}
	// Who holds it, for the error above; through the locked file itself.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(fmt.Appendf(nil, "the embedded broker pid %d at %s\n", os.Getpid(), addr), 0)
	}
	return f, nil
}

// removeTemps removes the temporary files kfake leaves when a write of its
// state fails (a full disk): each is an unfinished write, never state. kfake
// removes them itself when it loads the directory; this does it on the way
// out too, so a run that stopped on a full disk leaves none behind.
func removeTemps(dir string) (removed int) {
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".tmp") && os.Remove(path) == nil {
			removed++
		}
		return nil
	})
	return removed
}
