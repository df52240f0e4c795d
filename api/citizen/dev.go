package citizen

import (
	"strings"
	"time"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/gofiber/fiber/v2"
)

// The designer preview (Config.Dev): while the specs do not compile,
// every citizen page shows the problems (file:line:col) instead of a
// form; open pages load /static/dev.js, which long-polls /_dev/wait and
// reloads the page when the specs change.

// devWaitMax bounds one long poll; the script polls again.
var devWaitMax = 25 * time.Second

// devProblems shows the compile problems, if any, in place of a page.
func (s *server) devProblems(c *fiber.Ctx) error {
	if !s.cfg.Dev || s.cfg.DevState == nil {
		return c.Next()
	}
	problems, _ := s.cfg.DevState()
	if problems == nil {
		return c.Next()
	}
	lang := httpx.Lang(c)
	p := s.base(c, c.Params("tenant"), render.Tr(lang, "Die Spezifikation enthält Fehler", "The specification has errors"))
	for _, line := range strings.Split(problems.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			p.Problems = append(p.Problems, line)
		}
	}
	p.Status = fiber.StatusInternalServerError
	httpx.NoStore(c)
	return s.render(c, "dev.html", p)
}

// devWait returns 200 when the specs change, or 204 after devWaitMax.
func (s *server) devWait(c *fiber.Ctx) error {
	httpx.NoStore(c)
	if s.cfg.DevState == nil {
		return c.SendStatus(fiber.StatusNoContent)
	}
	_, changed := s.cfg.DevState()
	if changed == nil {
		return c.SendStatus(fiber.StatusNoContent)
	}
	t := time.NewTimer(devWaitMax)
	defer t.Stop()
	select {
	case <-changed:
		return c.Status(fiber.StatusOK).SendString("changed")
	case <-t.C:
		return c.SendStatus(fiber.StatusNoContent)
	}
}
