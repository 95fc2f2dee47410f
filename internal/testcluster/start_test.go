package testcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBinaries writes a shell script for every binary: etcd runs etcdScript,
// the others exit at once.
func fakeBinaries(t *testing.T, etcdScript string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range binaries {
		script := "#!/bin/sh\nexit 0\n"
		if b == "etcd" {
			script = "#!/bin/sh\n" + etcdScript + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, b), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name, etcd string
		timeout    time.Duration
		want       []string // in the error
	}{
		{"exits", "echo no space left on device; exit 3", time.Minute,
			[]string{"etcd: waiting for etcd /health: exited: exit status 3", "no space left on device"}},
		{"hangs", "echo starting; exec sleep 600", 500 * time.Millisecond,
			[]string{"etcd: waiting for etcd /health: context deadline exceeded", "starting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			_, err := Start(ctx, Options{BinDir: fakeBinaries(t, tt.etcd)})
			var pe *ProcessError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ProcessError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			// Start kept the logs and left nothing running.
			dir := filepath.Dir(pe.Log)
			defer os.RemoveAll(dir)
			if _, err := os.Stat(pe.Log); err != nil {
				t.Error(err)
			}
		})
	}
}
