package ionmodule

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Handler is a module's work for one event.
type Handler func(ctx context.Context, m *Module) error

// Run opens the module, runs handler, calls /done and exits 0. If the handler returns an error
// or panics, /done is NOT called (nothing is committed): the error goes to stderr and the
// process exits 1, so Ion retries the job. A refused /done also exits 1 with the sidecar's message.
func Run(handler Handler) {
	os.Exit(RunWith(context.Background(), Options{}, handler, os.Stderr))
}

// RunWith is Run without the exit: it returns the process exit code.
func RunWith(ctx context.Context, opts Options, handler Handler, stderr io.Writer) int {
	m, err := Open(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "ion module: could not start: %v\n", err)
		return 1
	}
	if err := callHandler(ctx, m, handler); err != nil {
		fmt.Fprintf(stderr, "ion module: the handler failed; nothing was committed: %v\n", err)
		return 1
	}
	if err := m.Done(ctx); err != nil {
		fmt.Fprintf(stderr, "ion module: %v\n", err)
		return 1
	}
	return 0
}

func callHandler(ctx context.Context, m *Module, handler Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return handler(ctx, m)
}
