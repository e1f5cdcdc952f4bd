package uring

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
)

// requireUring treats a kernel without io_uring (or with it disabled by
// kernel.io_uring_disabled or a seccomp filter) as a missing requirement,
// and any other setup error as a failure.
func requireUring(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, errors.ErrUnsupported) {
		testenv.Missing(t, "io_uring unavailable: "+err.Error())
	}
	t.Fatal(err)
}
