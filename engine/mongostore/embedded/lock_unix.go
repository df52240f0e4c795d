//go:build unix

package embedded

import (
	"os"
	"path/filepath"
	"syscall"
)

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "amtsform.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, errLocked
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
