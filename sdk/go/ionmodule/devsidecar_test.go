package ionmodule

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const deadline = 60 * time.Second

// ionCommand is ION_BIN, else `ion` on PATH, else the repository's .venv/bin/ion.
func ionCommand(t *testing.T) []string {
	t.Helper()
	if configured := os.Getenv("ION_BIN"); configured != "" {
		return strings.Fields(configured)
	}
	if found, err := exec.LookPath("ion"); err == nil {
		return []string{found}
	}
	_, here, _, _ := runtime.Caller(0)
	venvIon := filepath.Join(filepath.Dir(here), "..", "..", "..", ".venv", "bin", "ion")
	if _, err := os.Stat(venvIon); err == nil {
		return []string{venvIon}
	}
	t.Fatal("cannot find the ion command: set ION_BIN, put ion on PATH or run `make install`")
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}

// devSidecar is one real `ion sidecar --development` process with its own ION_HOME.
type devSidecar struct {
	home   string
	cmd    *exec.Cmd
	env    map[string]string
	lines  chan string
	mu     sync.Mutex
	stderr strings.Builder
	exited chan error
}

type sidecarOptions struct {
	port        int
	baseDir     string
	secret      string
	publishes   string
	data        map[string]string
	files       map[string]string // name -> path
	keepRunning bool
}

func startSidecar(t *testing.T, opts sidecarOptions) *devSidecar {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	command := ionCommand(t)
	args := append(command[1:], "sidecar", "--development", "--port", fmt.Sprint(opts.port))
	if opts.baseDir != "" {
		args = append(args, "--base-dir", opts.baseDir)
	}
	if opts.publishes != "" {
		args = append(args, "--publishes", opts.publishes)
	}
	for k, v := range opts.data {
		args = append(args, "--data", k+"="+v)
	}
	for name, path := range opts.files {
		args = append(args, "--file", name+"="+path)
	}
	if opts.keepRunning {
		args = append(args, "--keep-running")
	}
	cmd := exec.Command(command[0], args...)
	cmd.Dir = filepath.Dir(home)
	cmd.Env = append(withoutVar(os.Environ(), "SHARED_SECRET"), "ION_HOME="+home)
	if opts.secret != "" {
		cmd.Env = append(cmd.Env, "SHARED_SECRET="+opts.secret) // kept off the command line
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the sidecar: %v", err)
	}
	s := &devSidecar{home: home, cmd: cmd, env: map[string]string{}, lines: make(chan string, 100), exited: make(chan error, 1)}
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			s.lines <- scanner.Text()
		}
		close(s.lines)
	}()
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(scanner.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(s.stop)
	return s
}

func withoutVar(environ []string, name string) []string {
	kept := environ[:0:0]
	for _, item := range environ {
		if !strings.HasPrefix(item, name+"=") {
			kept = append(kept, item)
		}
	}
	return kept
}

func (s *devSidecar) stderrText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitReady returns the printed `export NAME=value` lines once the sidecar prints `ready`.
func (s *devSidecar) waitReady(t *testing.T) map[string]string {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("sidecar exited before ready; stderr:\n%s", s.stderrText())
			}
			if strings.TrimSpace(line) == "ready" {
				return s.env
			}
			if rest, found := strings.CutPrefix(line, "export "); found {
				name, value, _ := strings.Cut(rest, "=")
				s.env[name] = unquote(value)
			}
		case <-timeout:
			t.Fatalf("sidecar did not become ready; stderr:\n%s", s.stderrText())
		}
	}
}

// unquote undoes POSIX single quoting, which the sidecar uses only when a value needs it.
func unquote(value string) string {
	if len(value) >= 2 && strings.HasPrefix(value, "'") && strings.HasSuffix(value, "'") {
		return strings.ReplaceAll(value[1:len(value)-1], `'"'"'`, "'")
	}
	return value
}

func (s *devSidecar) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(deadline):
		t.Fatal("sidecar did not exit after /done")
		return -1
	}
}

func (s *devSidecar) stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
}

type traceEvent struct {
	ID            string            `json:"id"`
	Type          string            `json:"type"`
	ParentEventID *string           `json:"parent_event_id"`
	Data          map[string]string `json:"data"`
	Files         []string          `json:"files"`
	Jobs          []struct {
		Events []traceEvent `json:"events"`
	} `json:"jobs"`
}

// committedChildren reads back, with `ion trace --json`, the events the sidecar committed for the input event.
func (s *devSidecar) committedChildren(t *testing.T, env map[string]string) []traceEvent {
	t.Helper()
	command := ionCommand(t)
	cmd := exec.Command(command[0], append(command[1:], "trace", env["ION_CORRELATION_ID"], "--json")...)
	cmd.Dir = filepath.Dir(s.home)
	cmd.Env = append(os.Environ(), "ION_HOME="+s.home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ion trace: %v", err)
	}
	var trace struct {
		Events []traceEvent `json:"events"`
	}
	if err := json.Unmarshal(out, &trace); err != nil {
		t.Fatalf("ion trace --json: %v\n%s", err, out)
	}
	var children []traceEvent
	var walk func([]traceEvent)
	walk = func(events []traceEvent) {
		for _, e := range events {
			if e.ParentEventID != nil && *e.ParentEventID == env["ION_EVENT_ID"] {
				children = append(children, e)
			}
			for _, j := range e.Jobs {
				walk(j.Events)
			}
		}
	}
	walk(trace.Events)
	return children
}

// get calls the sidecar directly, as a module in any language would.
func get(t *testing.T, env map[string]string, path string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet,
		"http://127.0.0.1:"+env["SIDECAR_PORT"]+path, nil)
	req.Header.Set("secret", env["SHARED_SECRET"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getenvFrom(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}
