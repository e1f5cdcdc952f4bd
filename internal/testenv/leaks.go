package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Nothing that a test starts may outlive it. A test package proves it with
// a marker: Main puts a value of its own in the environment, every process
// the tests start inherits it (exec.Command passes the environment on, and
// so do ip netns exec, bash, timeout and exec), and once the tests have run,
// any process still carrying it is a leak. The value is unique to the test
// binary's run, so processes of packages running at the same time, or of
// another run, never match. scripts/test.sh does the same for the whole
// suite with RunVar.
const (
	// PackageVar carries the marker of one test binary's run (Main).
	PackageVar = "SMOLFS_TEST_PACKAGE"
	// RunVar carries scripts/test.sh's marker; the namespaces that
	// NewNetns makes carry it in their names.
	RunVar = "SMOLFS_TEST_RUN"
)

// telemetryVar marks the go command's telemetry sidecar, which the go
// command starts and lets outlive it by design (at most once a day, when a
// test runs go build): not something the tests started.
const telemetryVar = "GO_TELEMETRY_CHILD"

// leakReport is where Main lists what was left behind.
var leakReport io.Writer = os.Stderr

// made lists the namespaces NewNetns made in this process.
var made struct {
	sync.Mutex
	names []string
}

func madeNetns(name string) {
	made.Lock()
	defer made.Unlock()
	made.names = append(made.names, name)
}

// Main runs a test package's tests (run is m.Run, or a TestMain's own loop
// over it) under a marker of its own, then looks for what they left behind:
// processes still carrying the marker, and namespaces that NewNetns made and
// that are still there. It lists them on standard error, ends them, and
// turns the exit status into a failure. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m.Run)) }
//
// A test binary that panics (a -timeout, say) never gets here: the suite's
// own check in scripts/test.sh catches what such a package left.
func Main(run func() int) int {
	marker := strconv.Itoa(os.Getpid()) + "-" + randomHex(4)
	os.Setenv(PackageVar, marker)
	code := run()
	var left []string
	for _, p := range MarkedProcesses(PackageVar, marker) {
		left = append(left, "process "+p.String())
		syscall.Kill(p.PID, syscall.SIGKILL)
	}
	made.Lock()
	names := made.names
	made.Unlock()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
			left = append(left, "network namespace "+name)
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(leakReport, "FAIL: the tests left behind (now ended and removed):\n  %s\n", strings.Join(left, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Process is a process found by MarkedProcesses.
type Process struct {
	PID, PPID int
	Cmdline   string
}

func (p Process) String() string {
	return fmt.Sprintf("%d (parent %d): %s", p.PID, p.PPID, p.Cmdline)
}

// MarkedProcesses lists the processes other than this one whose
// environment has name=value, leaving out the go command's telemetry
// sidecar. Zombies have no environment to read and are not listed: they
// have ended, and only wait for their parent.
func MarkedProcesses(name, value string) []Process {
	want := []byte(name + "=" + value)
	ents, _ := os.ReadDir("/proc")
	var found []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone meanwhile, or a zombie
		}
		marked := false
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.HasPrefix(kv, []byte(telemetryVar+"=")) {
				marked = false
				break
			}
			marked = marked || bytes.Equal(kv, want)
		}
		if !marked {
			continue
		}
		p := Process{PID: pid}
		if cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
			p.Cmdline = strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// pid (comm) state ppid ...: comm may hold spaces and parentheses.
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
					p.PPID, _ = strconv.Atoi(f[1])
				}
			}
		}
		found = append(found, p)
	}
	return found
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
