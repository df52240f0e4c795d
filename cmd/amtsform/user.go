package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/staff"
)

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// staffCmd is what every user and token subcommand shares: the store
// flags, the parsed flag set, the open store.
type staffCmd struct {
	name           string // "user add"
	fs             *flag.FlagSet
	sf             *storeFlags
	installation   string
	stdout, stderr io.Writer
}

func newStaffCmd(name, usage, about string, stdout, stderr io.Writer) *staffCmd {
	c := &staffCmd{name: name, stdout: stdout, stderr: stderr}
	// The usage of a user or token subcommand has a blank line between
	// its text and its flags.
	c.fs, c.sf = newStoreFlags(name, stderr, usage, about, "")
	return c
}

// withInstallation adds --installation: tenants and offices named are
// then checked against the installation directory.
func (c *staffCmd) withInstallation() {
	c.fs.StringVar(&c.installation, "installation", "", "installation directory: check that the tenant and offices named exist")
}

// parse parses the arguments of the subcommand as parseArgs does.
func (c *staffCmd) parse(args []string, nargs int) bool {
	return parseArgs(c.fs, args, nargs)
}

func (c *staffCmd) fail(err error) int {
	fmt.Fprintf(c.stderr, "amtsform %s: %v\n", c.name, err)
	return 1
}

// checkDirectory checks tenant and offices against --installation.
func (c *staffCmd) checkDirectory(tenant string, offices []string) error {
	if c.installation == "" {
		return nil
	}
	in, err := engine.LoadInstallation(c.installation)
	if err != nil {
		return err
	}
	t := in.Tenant(tenant)
	if t == nil {
		var ids []string
		for _, x := range in.Tenants {
			ids = append(ids, x.ID)
		}
		return fmt.Errorf("tenant %q is not in the installation (its tenants: %s)", tenant, strings.Join(ids, ", "))
	}
	for _, o := range offices {
		if _, ok := t.Offices[o]; !ok {
			var ids []string
			for id := range t.Offices {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			return fmt.Errorf("office %q is not in the directory of tenant %s (its offices: %s)", o, tenant, strings.Join(ids, ", "))
		}
	}
	return nil
}

// run opens the store and calls f with a Staff on it.
func (c *staffCmd) run(f func(ctx context.Context, st *staff.Staff) error) int {
	ctx := staff.WithActor(context.Background(), "cli", "")
	s, closeFn, err := openStore(ctx, c.sf.uri, c.sf.dataDir, c.sf.logger(c.stderr))
	if err != nil {
		return storeError(c.stderr, c.name, err)
	}
	defer closeFn()
	if err := f(ctx, staff.New(s, staff.Options{Logger: c.sf.logger(c.stderr)})); err != nil {
		return c.fail(err)
	}
	return 0
}

// readPassword reads a new password: the first line of standard input
// with --password-stdin, else twice from a terminal prompt without echo.
// A password is never taken from the command line.
func readPassword(fromStdin bool, stderr io.Writer) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("standard input is not a terminal: pass the password on standard input with --password-stdin")
	}
	fmt.Fprint(stderr, "New password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "Repeat it: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords differ")
	}
	return string(a), nil
}

var userCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"add": userAdd, "passwd": userPasswd, "disable": userDisable, "enable": userEnable,
	"list": userList, "deputy": userDeputy, "roles": userRoles,
}

// runUser implements 'amtsform user add|passwd|disable|enable|list|deputy|roles'.
func runUser(args []string, stdout, stderr io.Writer) int {
	return subcommand("user", userCommands, "manage the staff accounts of the back office (local sign-in)", args, stdout, stderr)
}

var tokenCommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"add": tokenAdd, "list": tokenList, "revoke": tokenRevoke,
}

// runToken implements 'amtsform token add|list|revoke'.
func runToken(args []string, stdout, stderr io.Writer) int {
	return subcommand("token", tokenCommands, "manage the staff API tokens of integrations", args, stdout, stderr)
}

func subcommand(name string, cmds map[string]func([]string, io.Writer, io.Writer) int, about string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || cmds[args[0]] == nil {
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(stderr, "amtsform %s: unknown subcommand %q\n", name, args[0])
		}
		var names []string
		for n := range cmds {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(stderr, "usage: amtsform %s %s [flags]\n\n%s. Run 'amtsform %s <subcommand> -h' for its flags.\n",
			name, strings.Join(names, "|"), about, name)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	return cmds[args[0]](args[1:], stdout, stderr)
}

func userAdd(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user add", "--tenant T --role R [--office O] [--name N] [--email E] [--password-stdin] NAME",
		"Creates a local account. The password is read from a terminal prompt, or with --password-stdin\n"+
			"from the first line of standard input; never from the command line.", stdout, stderr)
	c.withInstallation()
	tenant := c.fs.String("tenant", "", "tenant (municipality) of the account (required)")
	name := c.fs.String("name", "", "display name")
	email := c.fs.String("email", "", "e-mail address")
	var roles, offices listFlag
	c.fs.Var(&roles, "role", "role: admin, caseworker or auditor (repeatable or comma-separated)")
	c.fs.Var(&offices, "office", "office the account works for (repeatable or comma-separated)")
	stdin := c.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	noPassword := c.fs.Bool("no-password", false, "create the account without a password (set it later with 'user passwd')")
	if !c.parse(args, 1) {
		return 2
	}
	if err := c.checkDirectory(*tenant, offices); err != nil {
		return c.fail(err)
	}
	password := ""
	if !*noPassword {
		var err error
		if password, err = readPassword(*stdin, stderr); err != nil {
			return c.fail(err)
		}
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		u, err := st.AddUser(ctx, staff.User{ID: c.fs.Arg(0), Tenant: *tenant, Name: *name, Email: *email, Roles: roles, Offices: offices}, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (tenant %s, roles %s)\n", u.ID, u.Tenant, strings.Join(u.Roles, ","))
		return nil
	})
}

func userPasswd(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user passwd", "[--password-stdin] NAME",
		"Sets a local account's password and ends all its sessions.", stdout, stderr)
	stdin := c.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if !c.parse(args, 1) {
		return 2
	}
	password, err := readPassword(*stdin, stderr)
	if err != nil {
		return c.fail(err)
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		if err := st.SetPassword(ctx, c.fs.Arg(0), password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s set; its sessions are ended\n", c.fs.Arg(0))
		return nil
	})
}

func userDisable(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user disable", "NAME", "Disables an account and ends all its sessions at once.", stdout, stderr)
	if !c.parse(args, 1) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		if err := st.Disable(ctx, c.fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled %s; its sessions are ended\n", c.fs.Arg(0))
		return nil
	})
}

func userEnable(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user enable", "NAME", "Enables a disabled account again.", stdout, stderr)
	if !c.parse(args, 1) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		if err := st.Enable(ctx, c.fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "enabled %s\n", c.fs.Arg(0))
		return nil
	})
}

func userRoles(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user roles", "--role R [--office O] NAME", "Replaces an account's roles and offices.", stdout, stderr)
	c.withInstallation()
	var roles, offices listFlag
	c.fs.Var(&roles, "role", "role: admin, caseworker or auditor (repeatable or comma-separated)")
	c.fs.Var(&offices, "office", "office the account works for (repeatable or comma-separated)")
	if !c.parse(args, 1) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		u, err := st.User(ctx, c.fs.Arg(0))
		if err != nil {
			return err
		}
		if err := c.checkDirectory(u.Tenant, offices); err != nil {
			return err
		}
		if u, err = st.SetRoles(ctx, u.ID, roles, offices); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: roles %s, offices %s\n", u.ID, strings.Join(u.Roles, ","), strings.Join(u.Offices, ","))
		return nil
	})
}

// userJSON is the JSON form of 'user list --json'.
type userJSON struct {
	ID       string       `json:"id"`
	Tenant   string       `json:"tenant"`
	Name     string       `json:"name,omitempty"`
	Email    string       `json:"email,omitempty"`
	Roles    []string     `json:"roles"`
	Offices  []string     `json:"offices"`
	Deputies []deputyJSON `json:"deputies,omitempty"`
	Disabled bool         `json:"disabled"`
	Source   string       `json:"source"`
	Created  time.Time    `json:"created"`
}

type deputyJSON struct {
	Office string `json:"office,omitempty"`
	User   string `json:"user,omitempty"`
	From   string `json:"from,omitempty"`
	Until  string `json:"until,omitempty"`
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

func deputiesJSON(ds []staff.Deputy) []deputyJSON {
	var out []deputyJSON
	for _, d := range ds {
		out = append(out, deputyJSON{Office: d.Office, User: d.User, From: day(d.From), Until: day(d.Until)})
	}
	return out
}

func userList(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user list", "[--tenant T] [--json]", "Lists the staff accounts.", stdout, stderr)
	tenant := c.fs.String("tenant", "", "only this tenant's accounts")
	asJSON := c.fs.Bool("json", false, "print JSON, one object per line")
	if !c.parse(args, 0) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		us, err := st.List(ctx, *tenant)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, u := range us {
				if err := enc.Encode(userJSON{ID: u.ID, Tenant: u.Tenant, Name: u.Name, Email: u.Email, Roles: u.Roles, Offices: u.Offices,
					Deputies: deputiesJSON(u.Deputies), Disabled: u.Disabled, Source: u.Source, Created: u.Created}); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTENANT\tROLES\tOFFICES\tDEPUTY FOR\tSOURCE\tSTATUS\tDISPLAY NAME")
		for _, u := range us {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			var deps []string
			for _, d := range u.Deputies {
				who := d.Office
				if d.User != "" {
					who = "user " + d.User
				}
				deps = append(deps, fmt.Sprintf("%s %s..%s", who, day(d.From), day(d.Until)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Tenant, dash(strings.Join(u.Roles, ",")),
				dash(strings.Join(u.Offices, ",")), dash(strings.Join(deps, "; ")), u.Source, status, dash(u.Name))
		}
		return tw.Flush()
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userDeputy(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("user deputy", "[--office O | --for USER] [--from DATE] [--until DATE] NAME | --clear NAME",
		"Adds a deputy period (Vertretung): NAME stands in for an office or another user from --from\n"+
			"(inclusive) until --until (exclusive). Without a period it prints NAME's deputies; --clear removes them.", stdout, stderr)
	c.withInstallation()
	office := c.fs.String("office", "", "office to stand in for")
	forUser := c.fs.String("for", "", "user to stand in for (and so for their offices)")
	from := c.fs.String("from", "", "first day (YYYY-MM-DD or RFC 3339); empty: now")
	until := c.fs.String("until", "", "end, exclusive (YYYY-MM-DD or RFC 3339); empty: until further notice")
	clear := c.fs.Bool("clear", false, "remove every deputy period of NAME")
	if !c.parse(args, 1) {
		return 2
	}
	var d staff.Deputy
	d.Office, d.User = *office, *forUser
	for _, x := range []struct {
		v   string
		dst *time.Time
		f   string
	}{{*from, &d.From, "--from"}, {*until, &d.Until, "--until"}} {
		if x.v == "" {
			continue
		}
		t, err := parseTime(x.v)
		if err != nil {
			fmt.Fprintf(stderr, "amtsform user deputy: %s: %v\n", x.f, err)
			return 2
		}
		*x.dst = t
	}
	adding := d.Office != "" || d.User != ""
	if *clear && adding {
		fmt.Fprintln(stderr, "amtsform user deputy: --clear and a new period exclude each other")
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		u, err := st.User(ctx, c.fs.Arg(0))
		if err != nil {
			return err
		}
		switch {
		case *clear:
			if u, err = st.SetDeputies(ctx, u.ID, nil); err != nil {
				return err
			}
		case adding:
			if d.Office != "" {
				if err := c.checkDirectory(u.Tenant, []string{d.Office}); err != nil {
					return err
				}
			}
			if d.From.IsZero() {
				d.From = time.Now().UTC().Truncate(time.Second)
			}
			if u, err = st.SetDeputies(ctx, u.ID, append(u.Deputies, d)); err != nil {
				return err
			}
		}
		if len(u.Deputies) == 0 {
			fmt.Fprintf(stdout, "%s stands in for nobody\n", u.ID)
		}
		for _, d := range u.Deputies {
			who := "office " + d.Office
			if d.User != "" {
				who = "user " + d.User
			}
			fmt.Fprintf(stdout, "%s stands in for %s from %s until %s\n", u.ID, who, dash(day(d.From)), dash(day(d.Until)))
		}
		return nil
	})
}

func tokenAdd(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("token add", "--tenant T --name N --role R [--office O]",
		"Creates a staff API token and prints its secret once on standard output (only its hash is stored).", stdout, stderr)
	c.withInstallation()
	tenant := c.fs.String("tenant", "", "tenant the token acts for (required)")
	name := c.fs.String("name", "", "which integration uses the token (required)")
	var roles, offices listFlag
	c.fs.Var(&roles, "role", "role: caseworker, auditor or admin (repeatable or comma-separated)")
	c.fs.Var(&offices, "office", "office whose cases the token may see (repeatable or comma-separated)")
	if !c.parse(args, 0) {
		return 2
	}
	if err := c.checkDirectory(*tenant, offices); err != nil {
		return c.fail(err)
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		secret, err := st.CreateToken(ctx, *tenant, *name, offices, roles)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s created; its secret is shown once, store it now:\n", staff.TokenID(secret))
		fmt.Fprintln(stdout, secret)
		return nil
	})
}

func tokenList(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("token list", "[--tenant T]", "Lists the staff API tokens (never their secrets).", stdout, stderr)
	tenant := c.fs.String("tenant", "", "only this tenant's tokens")
	if !c.parse(args, 0) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		ts, err := st.Tokens(ctx, *tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tROLES\tOFFICES\tCREATED\tLAST USED\tSTATUS\tNAME")
		for _, t := range ts {
			status := "active"
			if !t.Revoked.IsZero() {
				status = "revoked " + t.Revoked.Format(time.RFC3339)
			}
			last := "never"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Tenant, dash(strings.Join(t.Roles, ",")),
				dash(strings.Join(t.Offices, ",")), t.Created.Format(time.RFC3339), last, status, t.Name)
		}
		return tw.Flush()
	})
}

func tokenRevoke(args []string, stdout, stderr io.Writer) int {
	c := newStaffCmd("token revoke", "ID", "Revokes a staff API token; it stops working at once.", stdout, stderr)
	if !c.parse(args, 1) {
		return 2
	}
	return c.run(func(ctx context.Context, st *staff.Staff) error {
		if err := st.RevokeToken(ctx, c.fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked token %s\n", c.fs.Arg(0))
		return nil
	})
}
