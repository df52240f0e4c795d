package apiv1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
)

// FeedConfig configures the feed routes.
type FeedConfig struct {
	Feed    *delivery.Feed // (*delivery.Dispatcher).Feed()
	Tenants httpx.Tenants
}

// Feed registers the pull interface for receivers that cannot accept
// inbound connections (feed destinations) on app:
//
//	GET  /api/v1/{tenant}/feed[?cursor=&limit=]   envelopes in order (FeedPage)
//	POST /api/v1/{tenant}/feed/ack                {"items":[{"id","accept":true}|{"id","reject":"reason"}]}
//
// A receiver authenticates with the token of its feed destination
// (Authorization: Bearer <token>; the binding holds its SHA-256). An item
// handed out comes back after the binding's visibility timeout unless
// acknowledged; an acknowledged one never comes back.
func Feed(app fiber.Router, cfg FeedConfig) {
	h := &feedHandler{cfg: cfg}
	g := app.Group("/api/v1/:tenant/feed", h.auth)
	g.Get("/", h.poll)
	g.Post("/ack", h.ack)
}

type feedHandler struct{ cfg FeedConfig }

func (h *feedHandler) auth(c *fiber.Ctx) error {
	tenant, err := h.cfg.Tenants.Of(c)
	if err != nil {
		return err
	}
	tok, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	dest, err := h.cfg.Feed.Authenticate(tenant, strings.TrimSpace(tok))
	if !ok || err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="amtsform feed"`)
		return fiber.NewError(fiber.StatusUnauthorized, "a feed token is required")
	}
	c.Locals("tenant", tenant)
	c.Locals("feed", dest)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func (h *feedHandler) poll(c *fiber.Ctx) error {
	limit, _ := strconv.Atoi(c.Query("limit"))
	page, err := h.cfg.Feed.Poll(c.UserContext(), tenantOf(c), c.Locals("feed").(string), c.Query("cursor"), limit)
	if err != nil {
		return feedError(err)
	}
	return c.JSON(page)
}

// FeedAck is the body of POST …/feed/ack.
type FeedAck struct {
	Items []struct {
		ID     string `json:"id"`
		Accept bool   `json:"accept"`
		Reject string `json:"reject"`
	} `json:"items"`
}

// ack records the receiver's verdicts on the items of a FeedAck body, in
// order. The body must be JSON (415 otherwise) within the document limits
// (413 otherwise) naming items that are each accepted or rejected with a
// reason (400 otherwise); a refused body changes nothing. An item that is not the caller's (404) or was not
// handed out (409) stops the batch there: the items before it stay
// acknowledged, it and the items after it are not. Acknowledging an item
// again is a no-op that counts as success (the first verdict stands), so
// a receiver may send the batch again without the failing item.
func (h *feedHandler) ack(c *fiber.Ctx) error {
	if err := httpx.RequireJSON(c); err != nil {
		return err
	}
	// The limits of a document hold here too: at most MaxBytes of body
	// and MaxItems items (a page of the feed has at most 100).
	lim := engine.DefaultLimits
	if n := len(c.Body()); int64(n) > lim.MaxBytes {
		return fmt.Errorf("feed acknowledgement of %d bytes, at most %d: %w", n, lim.MaxBytes, engine.ErrTooLarge)
	}
	var body FeedAck
	if err := json.Unmarshal(c.Body(), &body); err != nil || len(body.Items) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, `expected {"items":[{"id":"…","accept":true}]}`)
	}
	if len(body.Items) > lim.MaxItems {
		return fmt.Errorf("feed acknowledgement of %d items, at most %d: %w", len(body.Items), lim.MaxItems, engine.ErrTooLarge)
	}
	// the whole body is checked before any item is acknowledged: a 400
	// changes nothing
	for _, it := range body.Items {
		if it.Accept == (it.Reject != "") {
			return fiber.NewError(fiber.StatusBadRequest, "every item is either accepted or rejected with a reason")
		}
		if !it.Accept {
			if err := delivery.CheckReason(it.Reject); err != nil {
				return feedError(err)
			}
		}
	}
	for _, it := range body.Items {
		if err := h.cfg.Feed.Ack(c.UserContext(), tenantOf(c), c.Locals("feed").(string), it.ID, it.Accept, it.Reject); err != nil {
			return feedError(err)
		}
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func feedError(err error) error {
	switch {
	case errors.Is(err, record.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "no such feed item")
	case errors.Is(err, record.ErrConflict):
		return fiber.NewError(fiber.StatusConflict, "the item was not handed out")
	case errors.Is(err, delivery.ErrReason):
		return fiber.NewError(fiber.StatusBadRequest, strings.TrimPrefix(err.Error(), "feed: "))
	}
	return err
}

// VersionSchema registers the published JSON Schema of every service
// version a tenant's submissions may carry, the receivers' contract, at
// the URL the envelopes name (submissionSchema.schemaUri):
//
//	GET /api/v1/{tenant}/services/{id}/versions/{hash}/schema.json
//
// A version's schema never changes: it is cacheable for a year.
func VersionSchema(app fiber.Router, cat *catalog.Catalog, tenants httpx.Tenants) {
	app.Get("/api/v1/:tenant/services/:id/versions/:hash/schema.json", func(c *fiber.Ctx) error {
		tenant, err := tenants.Of(c)
		if err != nil {
			return err
		}
		id := c.Params("id")
		if _, err := cat.Get(tenant, id); err != nil {
			return fiber.NewError(fiber.StatusNotFound, "no such service")
		}
		svc, err := cat.Pinned(record.ServiceRef{ID: id, Hash: c.Params("hash")})
		if err != nil {
			return fiber.NewError(fiber.StatusNotFound, "no such service version")
		}
		c.Set(fiber.HeaderETag, `"`+svc.Hash+`"`)
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		return c.JSON(svc.JSONSchema(), "application/schema+json")
	})
}
