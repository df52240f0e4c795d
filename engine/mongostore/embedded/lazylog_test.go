package embedded

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLazyHandler: attributes and groups of derived loggers appear as
// with the handler itself, in order; disabled levels write nothing.
func TestLazyHandler(t *testing.T) {
	var direct, lazy bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	for _, c := range []struct {
		buf *bytes.Buffer
		l   *slog.Logger
	}{
		{&direct, slog.New(slog.NewTextHandler(&direct, opts))},
		{&lazy, slog.New(&lazyHandler{base: slog.NewTextHandler(&lazy, opts)})},
	} {
		l := c.l.With("conn", 7).WithGroup("sql").With("stmt", "INSERT")
		l.Info("not written")
		l.Error("failed", "rows", 0)
		c.l.Warn("plain")
	}
	if direct.String() != lazy.String() || !strings.Contains(lazy.String(), "conn=7 sql.stmt=INSERT sql.rows=0") || strings.Contains(lazy.String(), "not written") {
		t.Fatalf("lazy:\n%s\ndirect:\n%s", lazy.String(), direct.String())
	}
}
