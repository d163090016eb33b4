package sqlitestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashDirEnv, when set, turns TestHelperProcess into the child of
// TestCrashDurability, writing to the store in that directory.
const crashDirEnv = "SQLITESTORE_CRASH_HELPER_DIR"

// TestHelperProcess is not a test: run as a child by TestCrashDurability, it
// writes things from several goroutines until it is killed, printing
// "ACK <id> <revision>" after each Put that returned nil.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDurability")
	}
	st, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	const workers = 16
	for w := range workers {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("crash:w%02d-%06d", w, i)
				for rev := int64(1); rev <= 2; rev++ {
					if err := st.Put(context.Background(), testRecord(id, rev), rev-1); err != nil {
						fmt.Printf("ERR put %s: %v\n", id, err)
						os.Exit(3)
					}
					// One write(2) per line: a line in the pipe is whole.
					fmt.Printf("ACK %s %d\n", id, rev)
				}
			}
		}()
	}
	select {} // until SIGKILL
}

// TestCrashDurability kills a writing process with SIGKILL and checks that
// every Put it acknowledged is in the reopened store.
//
// A process kill leaves the OS page cache intact, so this test proves that
// nil from Put means committed, not that the fsync happened; that rests on
// synchronous=FULL, which Open checks.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const killAfter = 300 // acknowledged puts before the kill
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var killed atomic.Bool
	kill := func() {
		if killed.CompareAndSwap(false, true) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	// A child that hangs must not hang the test.
	watchdog := time.AfterFunc(2*time.Minute, kill)
	defer watchdog.Stop()

	acked := make(map[string]int64)
	n := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "ERR "); ok {
			t.Errorf("child: %s", rest)
			continue
		}
		var (
			id  string
			rev int64
		)
		if _, err := fmt.Sscanf(line, "ACK %s %d", &id, &rev); err != nil {
			continue // test framework output
		}
		acked[id] = max(acked[id], rev)
		n++
		if n == killAfter {
			kill()
		}
		// Lines already in the pipe were acknowledged before the kill:
		// keep reading them until EOF.
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\nstderr:\n%s", err, stderr.String())
	}
	if n < killAfter {
		t.Fatalf("child acknowledged %d puts before the watchdog, want %d\nstderr:\n%s", n, killAfter, stderr.String())
	}
	t.Logf("child acknowledged %d puts of %d things before it died", n, len(acked))

	st := openTest(t, dir, Config{})
	for id, rev := range acked {
		rec, err := st.Get(context.Background(), id)
		if err != nil {
			t.Errorf("acknowledged %s (revision %d) lost: %v", id, rev, err)
			continue
		}
		// The child may have committed the next revision without living
		// to print its ACK, never less.
		if rec.Revision < rev {
			t.Errorf("%s: revision %d, acknowledged %d", id, rec.Revision, rev)
			continue
		}
		equalRecord(t, rec, testRecord(id, rec.Revision))
	}
	var check string
	if err := st.readDB.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}
