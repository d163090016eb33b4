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

	"github.com/twinway/twinway/twin/storetest"
)

// crashDirEnv, when set, turns TestHelperProcess into the child of
// TestCrashDurability, writing to the store in that directory.
const crashDirEnv = "SQLITESTORE_CRASH_HELPER_DIR"

// TestHelperProcess is not a test: run as a child by TestCrashDurability, it
// writes things and policies (through the same writer) from several
// goroutines until it is killed, printing "ACK thing <id> <revision>" after
// each Put and "ACK policy <id> <revision>" after each PutPolicy that
// returned nil.
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
		// Odd workers write policies, with ids that the things have too.
		kind, put := "thing", st.Put
		if w%2 == 1 {
			kind, put = "policy", st.PutPolicy
		}
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("crash:w%02d-%06d", w/2, i)
				for rev := int64(1); rev <= 2; rev++ {
					rec := testRecord(id, rev)
					if kind == "policy" {
						rec = policyRecord(id, rev)
					}
					if err := put(context.Background(), rec, rev-1); err != nil {
						fmt.Printf("ERR put %s %s: %v\n", kind, id, err)
						os.Exit(3)
					}
					// One write(2) per line: a line in the pipe is whole.
					fmt.Printf("ACK %s %s %d\n", kind, id, rev)
				}
			}
		}()
	}
	select {} // until SIGKILL
}

// TestCrashDurability kills a writing process with SIGKILL and checks that
// every Put and PutPolicy it acknowledged is in the reopened store.
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

	type key struct{ kind, id string }
	acked := make(map[key]int64)
	n := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "ERR "); ok {
			t.Errorf("child: %s", rest)
			continue
		}
		var (
			k   key
			rev int64
		)
		if _, err := fmt.Sscanf(line, "ACK %s %s %d", &k.kind, &k.id, &rev); err != nil {
			continue // test framework output
		}
		acked[k] = max(acked[k], rev)
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
	policies := 0
	for k := range acked {
		if k.kind == "policy" {
			policies++
		}
	}
	t.Logf("child acknowledged %d puts of %d things and %d policies before it died", n, len(acked)-policies, policies)
	if policies == 0 || policies == len(acked) {
		t.Errorf("child acknowledged %d policies of %d records, want both kinds", policies, len(acked))
	}

	st := openTest(t, dir, Config{})
	for k, rev := range acked {
		get, want := st.Get, testRecord
		if k.kind == "policy" {
			get, want = st.GetPolicy, policyRecord
		}
		rec, err := get(context.Background(), k.id)
		if err != nil {
			t.Errorf("acknowledged %s %s (revision %d) lost: %v", k.kind, k.id, rev, err)
			continue
		}
		// The child may have committed the next revision without living
		// to print its ACK, never less.
		if rec.Revision < rev {
			t.Errorf("%s %s: revision %d, acknowledged %d", k.kind, k.id, rec.Revision, rev)
			continue
		}
		storetest.EqualRecord(t, rec, want(k.id, rec.Revision))
	}
	var check string
	if err := st.readDB.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}
