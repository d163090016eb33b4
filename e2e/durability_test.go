package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// buildGateway compiles cmd/twinway once per test binary run.
var buildGateway = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "twinway-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "twinway")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/twinway").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var listeningLine = regexp.MustCompile(`gateway listening.* addr=(\S+)`)

// startProcess runs the gateway binary on dataDir and returns it with its base URL.
func startProcess(t *testing.T, dataDir string) (*exec.Cmd, *gatewayUnderTest) {
	t.Helper()
	bin, err := buildGateway()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--data", dataDir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, &gatewayUnderTest{baseURL: "http://" + a, wsURL: "ws://" + a + "/ws/2", dataDir: dataDir}
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway process did not report its address")
	}
	return nil, nil
}

// TestAcknowledgedWritesSurviveSIGKILL creates and modifies things through
// both doors, kills the gateway process with SIGKILL, restarts it on the same
// data directory, and checks every acknowledged state and revision.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a gateway process")
	}
	dataDir := t.TempDir()
	proc, g := startProcess(t, dataDir)

	const things, writesPerThing = 16, 10
	var wg sync.WaitGroup
	for i := 0; i < things; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("dur:thing-%d", i)
			ws := g.dial(t)
			if r := ws.command(t, topicOf(id, "create"), "/", `{"attributes":{"n":0}}`, nil); r.Status != 201 {
				t.Errorf("create %s: %s", id, r.Raw)
				return
			}
			for n := 1; n < writesPerThing; n++ {
				path, value := "/attributes/n", fmt.Sprint(n)
				if n%2 == 0 { // every other write through the HTTP door
					if r := g.do(t, http.MethodPut, thingPath(id, path), value, nil); r.status != 204 {
						t.Errorf("http modify %s: %d", id, r.status)
						return
					}
					continue
				}
				if r := ws.command(t, topicOf(id, "modify"), path, value, nil); r.Status != 204 {
					t.Errorf("ws modify %s: %s", id, r.Raw)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()

	_, g = startProcess(t, dataDir)
	for i := 0; i < things; i++ {
		id := fmt.Sprintf("dur:thing-%d", i)
		r := g.do(t, http.MethodGet, thingPath(id, "/attributes/n"), "", nil)
		if r.status != 200 || string(r.body) != fmt.Sprint(writesPerThing-1) {
			t.Errorf("%s after restart: %d %s", id, r.status, r.body)
		}
		r = g.do(t, http.MethodGet, thingPath(id, "/"), "", nil)
		if want := fmt.Sprintf(`"rev:%d"`, writesPerThing); r.header.Get("ETag") != want {
			t.Errorf("%s revision after restart: %s, want %s", id, r.header.Get("ETag"), want)
		}
	}
}

// TestSIGTERMClosesSessionsAndExits: on SIGTERM the gateway closes its
// WebSocket sessions with 1001 (going away) and exits cleanly.
func TestSIGTERMClosesSessionsAndExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals a gateway process")
	}
	proc, g := startProcess(t, t.TempDir())
	ws := g.dial(t)
	ws.startEvents(t, "")
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-ws.frames:
		var ce *websocket.CloseError
		if !errors.As(f.err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("session ended with %q %v, want close 1001", f.text, f.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the session was not closed on SIGTERM")
	}
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the gateway exited with %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the gateway did not exit on SIGTERM")
	}
}
