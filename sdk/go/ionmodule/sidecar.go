package ionmodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// SidecarError is a refused sidecar call. Message is the sidecar's own explanation, which names
// the offending file (for example "out/events/1.json: eventType 'x' is not in publishes [a]").
type SidecarError struct {
	Call       string
	StatusCode int
	Message    string
}

func (e *SidecarError) Error() string {
	return fmt.Sprintf("sidecar %s failed (%d): %s", e.Call, e.StatusCode, e.Message)
}

// sidecarClient calls the sidecar on 127.0.0.1, sending the shared secret in the "secret" header.
type sidecarClient struct {
	baseURL string
	secret  string
	http    *http.Client
}

func newSidecarClient(port int, secret string) *sidecarClient {
	return &sidecarClient{
		baseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		secret:  secret,
		// No overall timeout: /ready and /done block while files stream; callers bound them with ctx.
		http: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
	}
}

func (c *sidecarClient) call(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("secret", c.secret)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// notUpYet reports connection-level failures that mean the sidecar is not listening yet.
func notUpYet(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isDialError(err)
}

func isDialError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// ready calls /ready until the sidecar answers, backing off exponentially from first to maxDelay.
func (c *sidecarClient) ready(ctx context.Context, first, maxDelay time.Duration) error {
	delay := first
	for {
		status, body, err := c.call(ctx, "/ready")
		if err == nil {
			return checked("/ready", status, body)
		}
		if !notUpYet(err) || ctx.Err() != nil {
			return fmt.Errorf("sidecar /ready on %s: %w", c.baseURL, err)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("no sidecar answered on %s: %w (last error: %v)", c.baseURL, ctx.Err(), err)
		case <-timer.C:
		}
		delay *= 2
		if delay > maxDelay {
			delay = maxDelay
		}
	}
}

func (c *sidecarClient) done(ctx context.Context) error {
	status, body, err := c.call(ctx, "/done")
	if err != nil {
		return fmt.Errorf("sidecar /done on %s: %w", c.baseURL, err)
	}
	return checked("/done", status, body)
}

func checked(call string, status int, body []byte) error {
	if status == http.StatusOK {
		return nil
	}
	return &SidecarError{Call: call, StatusCode: status, Message: errorMessage(body, status)}
}

// errorMessage is the "message" of the sidecar's JSON error, or the raw body when it is not JSON.
func errorMessage(body []byte, status int) string {
	var document struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(body, &document) == nil && document.Message != nil {
		return *document.Message
	}
	if text := strings.TrimSpace(string(body)); text != "" {
		return text
	}
	return fmt.Sprintf("HTTP %d", status)
}
