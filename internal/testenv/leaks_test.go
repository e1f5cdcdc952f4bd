package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sleeper starts sleep 600 with env added to this process's environment;
// the test ends it if it is still running.
func sleeper(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func TestMarkedProcesses(t *testing.T) {
	value := "test-" + randomHex(8)
	marked := sleeper(t, "SMOLFS_TEST_MARKER="+value)
	sleeper(t, "SMOLFS_TEST_MARKER=other-"+value)
	sleeper(t, "SMOLFS_TEST_MARKER="+value, telemetryVar+"=1") // the go command's sidecar
	got := MarkedProcesses("SMOLFS_TEST_MARKER", value)
	if len(got) != 1 || got[0].PID != marked.Process.Pid || got[0].PPID != os.Getpid() || got[0].Cmdline != "sleep 600" {
		t.Fatalf("MarkedProcesses = %v, want only %d (parent %d): sleep 600", got, marked.Process.Pid, os.Getpid())
	}
	marked.Process.Kill()
	marked.Wait()
	if got := MarkedProcesses("SMOLFS_TEST_MARKER", value); len(got) != 0 {
		t.Errorf("after the process ended, MarkedProcesses = %v", got)
	}
}

// TestMainReportsALeak leaks on purpose inside Main: a process that inherits
// the marker, and (as root) a namespace. Main must fail, and remove both.
func TestMainReportsALeak(t *testing.T) {
	old, had := os.LookupEnv(PackageVar)
	defer func() {
		if had {
			os.Setenv(PackageVar, old)
		} else {
			os.Unsetenv(PackageVar)
		}
	}()
	var report bytes.Buffer
	leakReport = &report
	defer func() { leakReport = os.Stderr }()
	var leaked *exec.Cmd
	ns := ""
	code := Main(func() int {
		leaked = exec.Command("sleep", "600") // inherits the marker
		if err := leaked.Start(); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			ns = "smolfs-test-leak-" + randomHex(4)
			if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v: %s", err, out)
			}
			madeNetns(ns)
		}
		return 0
	})
	err := leaked.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the leaked process ended with %v, want killed by Main", err)
	}
	if code != 1 {
		t.Errorf("Main returned %d with a process left running, want 1", code)
	}
	want := fmt.Sprintf("process %d (parent %d): sleep 600\n", leaked.Process.Pid, os.Getpid())
	if !strings.HasPrefix(report.String(), "FAIL: the tests left behind") || !strings.Contains(report.String(), want) {
		t.Errorf("Main reported\n%s\nwant the process listed as %q", &report, want)
	}
	if ns != "" && !strings.Contains(report.String(), "network namespace "+ns+"\n") {
		t.Errorf("Main reported\n%s\nwant namespace %s listed", &report, ns)
	}
	if ns != "" {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			exec.Command("ip", "netns", "del", ns).Run()
			t.Errorf("Main left namespace %s behind", ns)
		}
	}
	report.Reset()
	if code := Main(func() int { return 0 }); code != 0 || report.Len() != 0 {
		t.Errorf("Main with nothing left behind returned %d and reported %q", code, &report)
	}
}
