package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SpecDirs expands the given paths into service directories: a path that
// holds .cue files is one service; otherwise each subdirectory that holds
// .cue files is, except installation directories (see IsInstallation).
func SpecDirs(paths []string) ([]string, error) {
	var dirs []string
	for _, p := range paths {
		if hasCUE(p) {
			dirs = append(dirs, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if sub := filepath.Join(p, e.Name()); e.IsDir() && hasCUE(sub) && !IsInstallation(sub) {
				dirs = append(dirs, sub)
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no service definitions (.cue files) in %v", paths)
	}
	return dirs, nil
}

func hasCUE(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	return len(m) > 0
}

// LoadServices loads and compiles every service under paths (see
// SpecDirs). It returns all services it could compile and the problems of
// the others joined in one error.
func LoadServices(paths []string) ([]*Service, error) {
	dirs, err := SpecDirs(paths)
	if err != nil {
		return nil, err
	}
	var svcs []*Service
	var errs []error
	for _, d := range dirs {
		s, err := Load(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		svcs = append(svcs, s)
	}
	return svcs, errors.Join(errs...)
}
