package testcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// binaries are what e2e/build.sh builds.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// keyFiles are hashed, in this order, into the cache key; e2e/build.sh hashes
// the same files the same way.
var keyFiles = []string{
	"e2e/build/versions.env",
	"e2e/build/kube/go.mod",
	"e2e/build/kube/go.sum",
	"e2e/build/etcd/go.mod",
	"e2e/build/etcd/go.sum",
}

// binDir is where the binaries are: $TUNE_E2E_BIN, else the directory
// e2e/build.sh builds into for this checkout.
func binDir() (string, error) {
	if dir := os.Getenv("TUNE_E2E_BIN"); dir != "" {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return cacheBinDir(root)
}

// cacheBinDir is $cache/<key>/bin as e2e/build.sh computes it for root.
func cacheBinDir(root string) (string, error) {
	cache := os.Getenv("TUNE_E2E_CACHE")
	if cache == "" {
		user, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("e2e cache dir: %w", err)
		}
		cache = filepath.Join(user, "tune-e2e")
	}
	h := sha256.New()
	for _, f := range keyFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("e2e cache key: %w", err)
		}
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	return filepath.Join(cache, key, "bin"), nil
}

// repoRoot is the checkout holding e2e/build.sh: found upwards from the working
// directory (a test's is its package), else from this source file.
func repoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "e2e", "build.sh")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("e2e binaries: no e2e/build.sh above the working directory; set TUNE_E2E_BIN")
}

// checkBinaries is an error when dir lacks any of the binaries.
func checkBinaries(dir string) error {
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return fmt.Errorf("e2e binaries not found in %s: run `make e2e-build`", dir)
		}
	}
	return nil
}
