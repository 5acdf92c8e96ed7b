// Package ionmodule helps write Ion modules in Go: it wraps the module-sidecar contract (wait for
// the sidecar, read inputs, write outputs, events and an insight, finish) with the standard library only.
//
//	func main() {
//		ionmodule.Run(func(ctx context.Context, m *ionmodule.Module) error {
//			text, err := m.ReadInput("input.txt")
//			if err != nil {
//				return err
//			}
//			if err := m.WriteFile("upper.txt", bytes.ToUpper(text)); err != nil {
//				return err
//			}
//			_, err = m.Publish("text_uppercased", []string{"upper.txt"}, map[string]string{"chars": "5"})
//			return err
//		})
//	}
package ionmodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options tune Open. The zero value uses the defaults.
type Options struct {
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// ReadyTimeout bounds the wait for the sidecar (default 2 minutes).
	ReadyTimeout time.Duration
}

// Module is one job's context. Open it (or use Run), then call Done exactly once.
type Module struct {
	BaseDir       string
	EventID       string
	CorrelationID string
	EventType     string
	ModuleName    string
	// Data is the triggering event's key/value data.
	Data map[string]string
	// Event is in/event.json as read, or nil when the sidecar did not write it.
	Event map[string]any

	client   *sidecarClient
	insight  map[string]any
	order    []string // insight keys in the order first recorded, for the list-of-pairs form
	events   int
	finished bool
}

// Open reads the environment, waits for the sidecar's /ready (retrying with exponential backoff
// while it is not up yet), then reads in/event.json, or in/meta.json when there is none.
func Open(ctx context.Context, opts Options) (*Module, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var missing []string
	for _, name := range []string{"SIDECAR_PORT", "SHARED_SECRET", "SIDECAR_BASE_DIR"} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment variable(s) %s: is this an Ion job?", strings.Join(missing, ", "))
	}
	port, err := strconv.Atoi(getenv("SIDECAR_PORT"))
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("SIDECAR_PORT must be a port number, got %q", getenv("SIDECAR_PORT"))
	}
	m := &Module{
		BaseDir:       getenv("SIDECAR_BASE_DIR"),
		EventID:       getenv("ION_EVENT_ID"),
		CorrelationID: getenv("ION_CORRELATION_ID"),
		EventType:     getenv("ION_EVENT_TYPE"),
		ModuleName:    getenv("ION_MODULE_NAME"),
		Data:          map[string]string{},
		client:        newSidecarClient(port, getenv("SHARED_SECRET")),
		insight:       map[string]any{},
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	readyCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.client.ready(readyCtx, 50*time.Millisecond, 2*time.Second); err != nil {
		return nil, err
	}
	if err := m.readEvent(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Module) readEvent() error {
	raw, err := os.ReadFile(filepath.Join(m.BaseDir, "in", "event.json"))
	if err == nil {
		var event map[string]any
		if err := json.Unmarshal(raw, &event); err != nil {
			return fmt.Errorf("in/event.json: %w", err)
		}
		m.Event = event
		setString(&m.EventID, event["id"])
		setString(&m.EventType, event["type"])
		setString(&m.CorrelationID, event["correlation_id"])
		setString(&m.CorrelationID, event["correlationId"])
		if data, ok := event["data"].(map[string]any); ok {
			for k, v := range data {
				m.Data[k] = fmt.Sprint(v)
			}
			return nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	raw, err = os.ReadFile(filepath.Join(m.BaseDir, "in", "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var pairs []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return fmt.Errorf("in/meta.json: %w", err)
	}
	for _, p := range pairs {
		m.Data[p.Key] = fmt.Sprint(p.Value)
	}
	return nil
}

func setString(target *string, value any) {
	if s, ok := value.(string); ok && s != "" {
		*target = s
	}
}

// relative checks that name stays inside its folder: relative, no "..".
func relative(name, what string) (string, error) {
	clean := path.Clean(filepath.ToSlash(name))
	if name == "" || clean == "." || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%s %q must be a relative path inside its folder (no '..', no '/...')", what, name)
	}
	for _, part := range strings.Split(filepath.ToSlash(name), "/") {
		if part == ".." {
			return "", fmt.Errorf("%s %q must be a relative path inside its folder (no '..', no '/...')", what, name)
		}
	}
	return clean, nil
}

// InputDir is in/data: the files the triggering event carried.
func (m *Module) InputDir() string { return filepath.Join(m.BaseDir, "in", "data") }

// OutputDir is out/data: files to persist.
func (m *Module) OutputDir() string { return filepath.Join(m.BaseDir, "out", "data") }

// InputFiles lists the input files' relative names ("/" separated), sorted.
func (m *Module) InputFiles() ([]string, error) {
	root := m.InputDir()
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// InputPath is the path of an input file; it fails, naming the file, when the event did not carry it.
func (m *Module) InputPath(name string) (string, error) {
	rel, err := relative(name, "input file")
	if err != nil {
		return "", err
	}
	p := filepath.Join(m.InputDir(), filepath.FromSlash(rel))
	if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
		have, _ := m.InputFiles()
		return "", fmt.Errorf("input file %q is not in in/data (inputs: %v)", name, have)
	}
	return p, nil
}

// ReadInput reads a whole input file.
func (m *Module) ReadInput(name string) ([]byte, error) {
	p, err := m.InputPath(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// OutputPath is where to write an output file; its sub-folders are created.
func (m *Module) OutputPath(name string) (string, error) {
	rel, err := relative(name, "output file")
	if err != nil {
		return "", err
	}
	p := filepath.Join(m.OutputDir(), filepath.FromSlash(rel))
	return p, os.MkdirAll(filepath.Dir(p), 0o755)
}

// WriteFile writes an output file under out/data.
func (m *Module) WriteFile(name string, content []byte) error {
	p, err := m.OutputPath(name)
	if err != nil {
		return err
	}
	return os.WriteFile(p, content, 0o644)
}

// Publish writes out/events/<n>.json (n counts publishes from 1); the sidecar checks and
// publishes it on Done. Files are relative to out/data. It returns the event file's path.
func (m *Module) Publish(eventType string, files []string, data map[string]string) (string, error) {
	written, err := m.PublishAs(strconv.Itoa(m.events+1), eventType, files, data)
	if err == nil { // a rejected event takes no number, so numbering stays the same on a retry
		m.events++
	}
	return written, err
}

// PublishAs is Publish with the event file named <name>.json. Child event ids derive from it,
// so the same name on a retry republishes the same event.
func (m *Module) PublishAs(name, eventType string, files []string, data map[string]string) (string, error) {
	fileName, err := relative(name+".json", "event file name")
	if err != nil {
		return "", err
	}
	document := struct {
		EventType string            `json:"eventType"`
		Files     []string          `json:"files"`
		Data      map[string]string `json:"data"`
	}{EventType: eventType, Files: []string{}, Data: map[string]string{}}
	for _, f := range files {
		rel, err := relative(f, "event file")
		if err != nil {
			return "", err
		}
		document.Files = append(document.Files, rel)
	}
	for k, v := range data {
		document.Data[k] = v
	}
	return m.writeJSON(filepath.Join("out", "events", fileName), document)
}

// Insight records data in out/meta.json as a JSON object; later calls add keys to earlier ones.
func (m *Module) Insight(data map[string]any) error {
	m.addInsight(data)
	_, err := m.writeJSON(filepath.Join("out", "meta.json"), m.insight)
	return err
}

// InsightPairs records data in out/meta.json in the original list of {"key","value"} pairs form
// (values that are not strings become JSON text); later calls add keys to earlier ones.
func (m *Module) InsightPairs(data map[string]any) error {
	m.addInsight(data)
	type pair struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	pairs := make([]pair, 0, len(m.order))
	for _, k := range m.order {
		value, ok := m.insight[k].(string)
		if !ok {
			encoded, err := json.Marshal(m.insight[k])
			if err != nil {
				return fmt.Errorf("insight %q: %w", k, err)
			}
			value = string(encoded)
		}
		pairs = append(pairs, pair{Key: k, Value: value})
	}
	_, err := m.writeJSON(filepath.Join("out", "meta.json"), pairs)
	return err
}

func (m *Module) addInsight(data map[string]any) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys) // map order is random: keep the pairs form stable
	for _, k := range keys {
		if _, seen := m.insight[k]; !seen {
			m.order = append(m.order, k)
		}
		m.insight[k] = data[k]
	}
}

func (m *Module) writeJSON(rel string, document any) (string, error) {
	p := filepath.Join(m.BaseDir, rel)
	encoded, err := json.MarshalIndent(document, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, encoded, 0o644)
}

// Done calls /done once. When out/ is invalid it returns a *SidecarError carrying the
// sidecar's message, and nothing was committed.
func (m *Module) Done(ctx context.Context) error {
	if m.finished {
		return errors.New("Done was already called; the sidecar accepts it once")
	}
	m.finished = true
	return m.client.done(ctx)
}
