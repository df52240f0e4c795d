package apiv1

import (
	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
)

// ServiceSummary is one entry of the service list.
type ServiceSummary struct {
	ID          string       `json:"id"`
	Version     string       `json:"version"`
	Hash        string       `json:"hash"`
	Title       engine.Text  `json:"title"`
	Description *engine.Text `json:"description,omitempty"`
}

func (s *server) apiServices(c *fiber.Ctx) error {
	svcs := s.in.Catalog.List(tenantOf(c))
	out := make([]ServiceSummary, len(svcs))
	for i, sv := range svcs {
		out[i] = ServiceSummary{ID: sv.ID, Version: sv.Version, Hash: sv.Hash, Title: sv.Form.Title, Description: sv.Form.Description}
	}
	return c.JSON(fiber.Map{"services": out})
}

func (s *server) apiService(c *fiber.Ctx) error {
	svc, err := s.service(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, `"`+svc.Hash+`"`)
	return c.JSON(svc.Form)
}

func (s *server) apiSchema(c *fiber.Ctx) error {
	svc, err := s.service(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, `"`+svc.Hash+`"`)
	return c.JSON(svc.JSONSchema(), "application/schema+json")
}

// Validation is the answer of POST …/validate.
type Validation struct {
	// Valid is true when there are no errors (on the page, with ?page=).
	Valid    bool                 `json:"valid"`
	Errors   []httpx.ProblemError `json:"errors"`
	Computed map[string]any       `json:"computed"`
	Hidden   []string             `json:"hidden"`
	Pages    []string             `json:"pages"`
	Office   string               `json:"office"`
}

// apiValidate evaluates a whole document without storing anything. It
// answers 200 with valid and the errors; a document that cannot be read
// is a problem (400, 413, 415). With ?page= only that page's errors count.
func (s *server) apiValidate(c *fiber.Ctx) error {
	svc, err := s.service(c)
	if err != nil {
		return err
	}
	doc, err := readDocument(c)
	if err != nil {
		return err
	}
	res := svc.Evaluate(doc, engine.Options{Today: s.today()})
	errs := res.Errors
	if page := c.Query("page"); page != "" {
		if svc.Form.Page(page) == nil {
			return notFound("service %s has no page %q", svc.ID, page)
		}
		errs = res.ErrorsOn(svc, page)
	}
	out := Validation{
		Valid:    len(errs) == 0,
		Errors:   fieldErrors(c, svc, errs),
		Computed: res.Computed,
		Hidden:   res.Hidden,
		Pages:    res.Pages,
		Office:   res.Office,
	}
	if out.Computed == nil {
		out.Computed = map[string]any{}
	}
	if out.Hidden == nil {
		out.Hidden = []string{}
	}
	if out.Pages == nil {
		out.Pages = []string{}
	}
	return c.JSON(out)
}
