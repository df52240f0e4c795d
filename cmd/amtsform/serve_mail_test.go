package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestServeMailFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{args: []string{"--smtp-url", "smtp://u:secret@mail.example?from=noreply@stadt.example"}, want: "needs --public-url"},
		{args: []string{"--smtp-url", "smtp://u:secret@mail.example?from=noreply@stadt.example", "--public-url", "formulare.stadt.example"}, want: "needs --public-url"},
		{args: []string{"--smtp-url", "smtp://u:secret@mail.example", "--public-url", "https://formulare.stadt.example"}, want: "no sender"},
		{env: "smtp://u:secret@mail.example?from=noreply@stadt.example&tls=maybe", args: []string{"--public-url", "https://formulare.stadt.example"}, want: "tls="},
	} {
		t.Setenv("AMTSFORM_SMTP_URL", c.env)
		var stderr bytes.Buffer
		if code := runServe(c.args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", c.args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "secret") {
			t.Errorf("%v: stderr %q, want …%s… and no password", c.args, stderr.String(), c.want)
		}
	}

	// -h never shows the password, even when it comes from the environment
	t.Setenv("AMTSFORM_SMTP_URL", "smtp://u:secret@mail.example?from=noreply@stadt.example")
	var stderr bytes.Buffer
	runServe([]string{"-h"}, io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "-smtp-url") || strings.Contains(stderr.String(), "secret") {
		t.Errorf("serve -h:\n%s", stderr.String())
	}

	if _, err := newMailer("smtps://u:p@mail.example?from=noreply@stadt.example", "https://formulare.stadt.example"); err != nil {
		t.Error(err)
	}
}
