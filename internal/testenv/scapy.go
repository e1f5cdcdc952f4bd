package testenv

import (
	"os/exec"
	"testing"
)

// RequireScapy needs a python3 that can import scapy and returns its path.
// Debian's python3-scapy goes into the system's python3, which a python
// earlier on PATH (pyenv, a virtualenv) would hide, so /usr/bin/python3 is
// tried first.
func RequireScapy(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import scapy.all").Run() == nil {
			return p
		}
	}
	Missing(t, "no python3 with scapy: apt-get install python3-scapy")
	return ""
}
