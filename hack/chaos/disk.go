package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkpointDisk is the consumers' checkpoint directory: a small tmpfs of
// its own when the campaign may mount one (root), so that it can be filled
// up; a plain directory otherwise, and then the disk fault is not run.
type checkpointDisk struct {
	Dir     string
	mounted bool
}

const (
	checkpointDiskSize = 4 << 20 // a few stats files need a few KiB
	fillerName         = ".chaos-filler"
)

func newCheckpointDisk(dir string) (*checkpointDisk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &checkpointDisk{Dir: dir}
	err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", checkpointDiskSize))
	switch {
	case err == nil:
		d.mounted = true
	case errors.Is(err, syscall.EPERM):
		// Not root: a plain directory.
	default:
		return nil, fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	return d, nil
}

// Fill writes a file until the disk is full.
func (d *checkpointDisk) Fill() error {
	f, err := os.Create(filepath.Join(d.Dir, fillerName))
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// Free removes what Fill wrote.
func (d *checkpointDisk) Free() error {
	err := os.Remove(filepath.Join(d.Dir, fillerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Wipe deletes everything in the directory: the disk is lost.
func (d *checkpointDisk) Wipe() error {
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(d.Dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Close unmounts the tmpfs, after copying its files to keep (the stats
// files, for a look after the run).
func (d *checkpointDisk) Close(keep string) error {
	if !d.mounted {
		return nil
	}
	if err := os.MkdirAll(keep, 0o755); err != nil {
		return err
	}
	entries, _ := os.ReadDir(d.Dir)
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(d.Dir, e.Name())); err == nil && e.Type().IsRegular() {
			_ = os.WriteFile(filepath.Join(keep, e.Name()), data, 0o644)
		}
	}
	return syscall.Unmount(d.Dir, 0)
}
