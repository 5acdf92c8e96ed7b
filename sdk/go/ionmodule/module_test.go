package ionmodule

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as a module process for the Run tests (re-executed with ION_TEST_MODULE set).
func TestMain(m *testing.M) {
	switch os.Getenv("ION_TEST_MODULE") {
	case "fail":
		Run(func(_ context.Context, m *Module) error {
			if err := m.WriteFile("half.txt", []byte("half done")); err != nil {
				return err
			}
			if _, err := m.Publish("anything", []string{"half.txt"}, nil); err != nil {
				return err
			}
			return errors.New("the model file is corrupt")
		})
	case "panic":
		Run(func(context.Context, *Module) error { panic("index out of range") })
	case "succeed":
		Run(func(_ context.Context, m *Module) error {
			if err := m.WriteFile("hi.txt", []byte("hi")); err != nil {
				return err
			}
			_, err := m.Publish("greeted", []string{"hi.txt"}, nil)
			return err
		})
	}
	os.Exit(m.Run())
}

func newSecret(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func openModule(t *testing.T, env map[string]string) *Module {
	t.Helper()
	m, err := Open(context.Background(), Options{Getenv: getenvFrom(env), ReadyTimeout: deadline})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var document any
	if err := json.Unmarshal(raw, &document); err != nil {
		t.Fatal(err)
	}
	return document
}

func TestReadyWaitsForALateSidecarThenDeliversInputs(t *testing.T) {
	dir := t.TempDir()
	port, secret, baseDir := freePort(t), newSecret(t), filepath.Join(dir, "job")
	env := map[string]string{"SIDECAR_PORT": fmt.Sprint(port), "SHARED_SECRET": secret, "SIDECAR_BASE_DIR": baseDir}
	type result struct {
		m   *Module
		err error
	}
	opened := make(chan result, 1)
	go func() { // nothing listens on the port yet: Open must keep retrying
		m, err := Open(context.Background(), Options{Getenv: getenvFrom(env), ReadyTimeout: deadline})
		opened <- result{m, err}
	}()
	select {
	case r := <-opened:
		t.Fatalf("Open returned before the sidecar started: %v", r.err)
	case <-time.After(500 * time.Millisecond):
	}

	must(t, os.WriteFile(filepath.Join(dir, "photo.bin"), []byte("\x00\x01binary"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644))
	s := startSidecar(t, sidecarOptions{
		port: port, baseDir: baseDir, secret: secret, data: map[string]string{"lang": "en", "count": "3"},
		files: map[string]string{"photo.bin": filepath.Join(dir, "photo.bin"), "docs/notes.txt": filepath.Join(dir, "notes.txt")},
	})
	printed := s.waitReady(t)
	var r result
	select {
	case r = <-opened:
	case <-time.After(deadline):
		t.Fatal("Open did not return after the sidecar started")
	}
	if r.err != nil {
		t.Fatalf("Open: %v", r.err)
	}
	m := r.m
	if want := map[string]string{"lang": "en", "count": "3"}; !reflect.DeepEqual(m.Data, want) {
		t.Errorf("Data = %v, want %v", m.Data, want)
	}
	if m.EventID != printed["ION_EVENT_ID"] || m.CorrelationID != printed["ION_CORRELATION_ID"] {
		t.Errorf("event identity %q/%q, sidecar printed %q/%q", m.EventID, m.CorrelationID,
			printed["ION_EVENT_ID"], printed["ION_CORRELATION_ID"])
	}
	files, err := m.InputFiles()
	must(t, err)
	if want := []string{"docs/notes.txt", "photo.bin"}; !reflect.DeepEqual(files, want) {
		t.Errorf("InputFiles = %v, want %v", files, want)
	}
	content, err := m.ReadInput("photo.bin")
	must(t, err)
	if string(content) != "\x00\x01binary" {
		t.Errorf("photo.bin = %q", content)
	}
	if _, err := m.InputPath("missing.txt"); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("InputPath(missing.txt) error = %v, want one naming the file", err)
	}
	must(t, m.Done(context.Background()))
	if code := s.waitExit(t); code != 0 {
		t.Errorf("sidecar exit code %d after /done", code)
	}
}

func TestPublishWithFilesAndAnObjectInsightAreCommitted(t *testing.T) {
	s := startSidecar(t, sidecarOptions{publishes: "part_ready", keepRunning: true})
	env := s.waitReady(t)
	m := openModule(t, env)
	must(t, m.WriteFile("parts/a.txt", []byte("first part")))
	must(t, m.WriteFile("b.bin", []byte{0xff}))
	_, err := m.Publish("part_ready", []string{"parts/a.txt", "b.bin"}, map[string]string{"index": "1"})
	must(t, err)
	must(t, m.Insight(map[string]any{"parts": 2, "tags": []string{"x", "y"}}))
	must(t, m.Done(context.Background()))

	children := s.committedChildren(t, env)
	if len(children) != 1 {
		t.Fatalf("committed %d events, want 1: %+v", len(children), children)
	}
	if children[0].Type != "part_ready" || !reflect.DeepEqual(children[0].Files, []string{"b.bin", "parts/a.txt"}) ||
		!reflect.DeepEqual(children[0].Data, map[string]string{"index": "1"}) {
		t.Errorf("committed event %+v", children[0])
	}
	insight := readJSON(t, filepath.Join(env["SIDECAR_BASE_DIR"], "out", "meta.json"))
	if want := map[string]any{"parts": 2.0, "tags": []any{"x", "y"}}; !reflect.DeepEqual(insight, want) {
		t.Errorf("out/meta.json = %v, want %v", insight, want)
	}
}

func TestInsightInTheListOfPairsForm(t *testing.T) {
	s := startSidecar(t, sidecarOptions{})
	env := s.waitReady(t)
	m := openModule(t, env)
	must(t, m.InsightPairs(map[string]any{"label": "cat"}))
	must(t, m.InsightPairs(map[string]any{"score": 0.9}))
	insight := readJSON(t, filepath.Join(env["SIDECAR_BASE_DIR"], "out", "meta.json"))
	want := []any{map[string]any{"key": "label", "value": "cat"}, map[string]any{"key": "score", "value": "0.9"}}
	if !reflect.DeepEqual(insight, want) {
		t.Errorf("out/meta.json = %v, want %v", insight, want)
	}
	must(t, m.Done(context.Background())) // the sidecar accepts the original form
	if code := s.waitExit(t); code != 0 {
		t.Errorf("sidecar exit code %d after /done", code)
	}
}

func TestAnInvalidOutputSurfacesTheSidecarsMessage(t *testing.T) {
	s := startSidecar(t, sidecarOptions{publishes: "allowed_type", keepRunning: true})
	env := s.waitReady(t)
	m := openModule(t, env)
	_, err := m.Publish("not_declared", nil, map[string]string{"k": "v"})
	must(t, err)
	err = m.Done(context.Background())
	var refused *SidecarError
	if !errors.As(err, &refused) {
		t.Fatalf("Done error = %v, want a *SidecarError", err)
	}
	if refused.StatusCode != 400 || !strings.Contains(refused.Message, "out/events/1.json") ||
		!strings.Contains(refused.Message, "not_declared") {
		t.Errorf("SidecarError = %+v, want 400 naming out/events/1.json and the type", refused)
	}
	if children := s.committedChildren(t, env); len(children) != 0 {
		t.Errorf("an invalid output committed events: %+v", children)
	}
}

// runModule re-executes this test binary as a module using Run.
func runModule(t *testing.T, mode string, env map[string]string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ION_TEST_MODULE="+mode)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running the module: %v", err)
	}
	return cmd.ProcessState.ExitCode(), output.String()
}

func TestRunDoesNotCallDoneWhenTheHandlerFails(t *testing.T) {
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			s := startSidecar(t, sidecarOptions{keepRunning: true})
			env := s.waitReady(t)
			code, output := runModule(t, mode, env)
			if code != 1 {
				t.Errorf("exit code %d, want 1; output:\n%s", code, output)
			}
			if !strings.Contains(output, "the model file is corrupt") && !strings.Contains(output, "index out of range") {
				t.Errorf("the error is not on stderr:\n%s", output)
			}
			if strings.Contains(output, env["SHARED_SECRET"]) {
				t.Error("the secret appears in the module's output")
			}
			// The first /done is still the sidecar's to accept: the failed module never called it.
			if status := get(t, env, "/done"); status != 200 {
				t.Errorf("GET /done after the failure = %d, want 200", status)
			}
		})
	}
}

func TestRunCallsDoneAndExitsZeroWhenTheHandlerSucceeds(t *testing.T) {
	s := startSidecar(t, sidecarOptions{publishes: "greeted", keepRunning: true})
	env := s.waitReady(t)
	code, output := runModule(t, "succeed", env)
	if code != 0 {
		t.Fatalf("exit code %d; output:\n%s", code, output)
	}
	if status := get(t, env, "/done"); status != 409 {
		t.Errorf("GET /done after Run = %d, want 409 (already called once)", status)
	}
	children := s.committedChildren(t, env)
	if len(children) != 1 || !reflect.DeepEqual(children[0].Files, []string{"hi.txt"}) {
		t.Errorf("committed events %+v, want one with hi.txt", children)
	}
}

func TestMissingEnvironmentNamesTheVariables(t *testing.T) {
	_, err := Open(context.Background(), Options{Getenv: getenvFrom(map[string]string{"SIDECAR_PORT": "1"})})
	if err == nil || !strings.Contains(err.Error(), "SHARED_SECRET, SIDECAR_BASE_DIR") {
		t.Errorf("Open error = %v", err)
	}
}

func TestASidecarThatNeverComesIsReported(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"SIDECAR_PORT": fmt.Sprint(port), "SHARED_SECRET": "s", "SIDECAR_BASE_DIR": t.TempDir()}
	_, err := Open(context.Background(), Options{Getenv: getenvFrom(env), ReadyTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Errorf("Open error = %v, want one naming the port", err)
	}
}

func TestPathsMustStayInsideTheirFolder(t *testing.T) {
	base := t.TempDir()
	m := &Module{BaseDir: base, insight: map[string]any{}}
	for _, bad := range []string{"../escape.txt", "/etc/passwd", "a/../../b", ""} {
		if err := m.WriteFile(bad, []byte("x")); err == nil {
			t.Errorf("WriteFile(%q) accepted", bad)
		}
		if _, err := m.Publish("t", []string{bad}, nil); err == nil {
			t.Errorf("Publish with file %q accepted", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "out", "events")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a rejected publish wrote an event file")
	}
}

func TestMetaJSONIsReadWhenThereIsNoEventJSON(t *testing.T) {
	base := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(base, "in"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "in", "meta.json"),
		[]byte(`[{"key":"a","value":"1"},{"key":"b","value":"x"}]`), 0o644))
	m := &Module{BaseDir: base, Data: map[string]string{}}
	must(t, m.readEvent())
	if want := map[string]string{"a": "1", "b": "x"}; !reflect.DeepEqual(m.Data, want) {
		t.Errorf("Data = %v, want %v", m.Data, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
