package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Headers of a webhook delivery.
const (
	HeaderTimestamp  = "callback-timestamp"      // unix seconds
	HeaderSignature  = "callback-authentication" // hex HMAC-SHA512 of "<timestamp>.<body>"
	HeaderDeliveryID = "X-Amtsform-Delivery"     // stable delivery id
	HeaderPart       = "X-Amtsform-Part"         // "envelope" or "attachment"
	HeaderAttachment = "X-Amtsform-Attachment"   // attachment id of an upload
	HeaderAttempt    = "X-Amtsform-Attempt"      // attempt number (informational)
)

// Webhook POSTs the envelope to the binding's URL, signed like a
// FIT-Connect callback. Attachments beyond the inline limit are POSTed
// first, one step each (HeaderPart "attachment", the raw bytes or their
// JWE), then the envelope referring to them (Uploaded). A 2xx answer
// completes a step (409 too: the receiver has it already); 408, 425, 429
// and 5xx, timeouts and broken connections are retried; any other 4xx is
// permanent (dead-lettered at once, retriable by hand).
type Webhook struct {
	Client *http.Client // default: a client without redirects
}

var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 30 * time.Second,
	},
}

// Send implements Sender.
func (w *Webhook) Send(ctx context.Context, a *Attempt) error {
	b := a.Binding
	if b.URL == "" {
		return &Permanent{Err: fmt.Errorf("webhook %s has no url", a.Job.Destination)}
	}
	var secret []byte
	if b.SecretEnv != "" {
		if secret = []byte(a.d.opt.Env(b.SecretEnv)); len(secret) == 0 {
			return fmt.Errorf("webhook %s: the secret variable %s is empty", a.Job.Destination, b.SecretEnv)
		}
	}
	env, files, err := a.d.build(ctx, a, true)
	if err != nil {
		return err
	}
	key, err := receiverKey(a)
	if err != nil {
		return &Permanent{Err: err}
	}
	for i, c := range env.Attachments {
		if !c.Uploaded {
			continue
		}
		f := files[i]
		if _, err := a.Step(ctx, "upload:"+c.AttachmentID, func(ctx context.Context) (string, error) {
			body, ct := f.data, f.info.MimeType
			if key != nil {
				s, err := encrypt(key, f.data, f.info.MimeType)
				if err != nil {
					return "", err
				}
				body, ct = []byte(s), "application/jose"
			}
			return w.post(ctx, a, secret, body, ct, "attachment", c.AttachmentID)
		}); err != nil {
			return err
		}
	}
	body, err := encodeJSON(env)
	if err != nil {
		return err
	}
	_, err = a.Last(ctx, "envelope", func(ctx context.Context) (string, error) {
		return w.post(ctx, a, secret, body, "application/json", "envelope", "")
	})
	return err
}

func (w *Webhook) post(ctx context.Context, a *Attempt, secret, body []byte, ct, part, att string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Binding.URL, bytes.NewReader(body))
	if err != nil {
		return "", &Permanent{Err: err}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set(HeaderDeliveryID, a.DeliveryID)
	req.Header.Set(HeaderPart, part)
	req.Header.Set(HeaderAttempt, fmt.Sprint(a.N))
	if att != "" {
		req.Header.Set(HeaderAttachment, att)
	}
	if secret != nil {
		ts, sig := Sign(secret, body, a.d.now())
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, sig)
	}
	c := w.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", part, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", fmt.Errorf("%s: reading the answer: %w", part, err)
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300, s == http.StatusConflict:
		return string(bytes.TrimSpace(reply)), nil
	case s == http.StatusRequestTimeout, s == http.StatusTooEarly, s == http.StatusTooManyRequests, s >= 500:
		return "", fmt.Errorf("%s: receiver answered %d", part, s)
	default:
		return "", &Permanent{Err: fmt.Errorf("%s: receiver answered %d", part, s)}
	}
}
