package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/amtsform/amtsform/engine/record"
)

// maxPasswordBytes bounds what is hashed (argon2id handles any length;
// the bound keeps a request from hashing megabytes).
const maxPasswordBytes = 1024

// CheckPassword reports whether password satisfies the policy: at least
// MinPasswordLength characters, at most 1024 bytes.
func (s *Staff) CheckPassword(password string) error {
	if n := utf8.RuneCountInString(password); n < s.opts.MinPasswordLength {
		return fmt.Errorf("%w: the password must have at least %d characters (it has %d)", ErrInvalid, s.opts.MinPasswordLength, n)
	}
	if len(password) > maxPasswordBytes {
		return fmt.Errorf("%w: the password is longer than %d bytes", ErrInvalid, maxPasswordBytes)
	}
	return nil
}

// AddUser creates a local account. u.ID is the login name (lower case
// letters, digits and . _ @ -); Tenant and at least one role are
// required. An empty password creates an account that cannot sign in
// until SetPassword. It returns record.ErrConflict when the name is
// taken.
func (s *Staff) AddUser(ctx context.Context, u User, password string) (*User, error) {
	u.ID = strings.ToLower(strings.TrimSpace(u.ID))
	if !userIDPattern.MatchString(u.ID) {
		return nil, fmt.Errorf("%w: user name %q: use 1 to 64 lower-case letters, digits and . _ @ -", ErrInvalid, u.ID)
	}
	if u.Tenant == "" {
		return nil, fmt.Errorf("%w: the user needs a tenant", ErrInvalid)
	}
	u.Roles, u.Offices = normalise(u.Roles), normalise(u.Offices)
	if err := checkRoles(u.Roles, u.Offices); err != nil {
		return nil, err
	}
	if err := checkDeputies(u.Deputies); err != nil {
		return nil, err
	}
	if password != "" {
		if err := s.CheckPassword(password); err != nil {
			return nil, err
		}
		u.PasswordHash = hashPassword(password, s.opts.Argon2)
	}
	now := s.now()
	u.Source, u.Created, u.Updated, u.Version, u.Epoch = SourceLocal, now, now, 1, 0
	if err := s.store.CreateStaffUser(ctx, &u); err != nil {
		return nil, fmt.Errorf("staff: add user %s: %w", u.ID, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.added", Object: u.ID,
		Detail: map[string]string{"roles": strings.Join(u.Roles, ","), "offices": strings.Join(u.Offices, ",")}})
	return &u, nil
}

// update applies fn to the stored user id and writes it with optimistic
// concurrency, retrying a lost race a few times.
func (s *Staff) update(ctx context.Context, id string, fn func(u *User) error) (*User, error) {
	for attempt := 0; ; attempt++ {
		u, err := s.store.StaffUser(ctx, id)
		if err != nil {
			return nil, err
		}
		v := u.Version
		if err := fn(u); err != nil {
			return nil, err
		}
		u.Updated = s.now()
		err = s.store.UpdateStaffUser(ctx, u, v)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, record.ErrConflict) || attempt >= 4 {
			return nil, err
		}
	}
}

// SetPassword sets a local account's password and ends all its sessions.
func (s *Staff) SetPassword(ctx context.Context, id, password string) error {
	if err := s.CheckPassword(password); err != nil {
		return err
	}
	hash := hashPassword(password, s.opts.Argon2)
	u, err := s.update(ctx, id, func(u *User) error {
		if u.Source != SourceLocal {
			return fmt.Errorf("%w: %s signs in through the identity provider; its password is set there", ErrInvalid, id)
		}
		u.PasswordHash = hash
		u.Epoch++
		return nil
	})
	if err != nil {
		return fmt.Errorf("staff: set password of %s: %w", id, err)
	}
	if err := s.store.DeleteStaffSessions(ctx, id); err != nil {
		return fmt.Errorf("staff: set password of %s: end sessions: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.password", Object: id})
	return nil
}

// Disable disables an account and ends all its sessions at once.
func (s *Staff) Disable(ctx context.Context, id string) error {
	u, err := s.update(ctx, id, func(u *User) error {
		u.Disabled = true
		u.Epoch++
		return nil
	})
	if err != nil {
		return fmt.Errorf("staff: disable %s: %w", id, err)
	}
	if err := s.store.DeleteStaffSessions(ctx, id); err != nil {
		return fmt.Errorf("staff: disable %s: end sessions: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.disabled", Object: id})
	return nil
}

// Enable enables a disabled account again (its old sessions stay ended).
func (s *Staff) Enable(ctx context.Context, id string) error {
	u, err := s.update(ctx, id, func(u *User) error {
		u.Disabled = false
		return nil
	})
	if err != nil {
		return fmt.Errorf("staff: enable %s: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.enabled", Object: id})
	return nil
}

// SetRoles replaces a user's roles and offices. Open sessions see the
// change at their next request.
func (s *Staff) SetRoles(ctx context.Context, id string, roles, offices []string) (*User, error) {
	roles, offices = normalise(roles), normalise(offices)
	if err := checkRoles(roles, offices); err != nil {
		return nil, err
	}
	u, err := s.update(ctx, id, func(u *User) error {
		u.Roles, u.Offices = roles, offices
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("staff: set roles of %s: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.updated", Object: id,
		Detail: map[string]string{"roles": strings.Join(roles, ","), "offices": strings.Join(offices, ",")}})
	return u, nil
}

// SetDeputies replaces a user's deputy periods (Vertretung). A person
// stood in for must be a user of the same tenant.
func (s *Staff) SetDeputies(ctx context.Context, id string, deputies []Deputy) (*User, error) {
	if err := checkDeputies(deputies); err != nil {
		return nil, err
	}
	var tenant string
	u, err := s.update(ctx, id, func(u *User) error {
		tenant = u.Tenant
		for _, d := range deputies {
			if d.User == "" {
				continue
			}
			if d.User == u.ID {
				return fmt.Errorf("%w: %s cannot stand in for themselves", ErrInvalid, id)
			}
			o, err := s.store.StaffUser(ctx, d.User)
			if errors.Is(err, record.ErrNotFound) || (err == nil && o.Tenant != tenant) {
				return fmt.Errorf("%w: deputy for %q: no such user in tenant %s", ErrInvalid, d.User, tenant)
			} else if err != nil {
				return err
			}
		}
		u.Deputies = deputies
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("staff: set deputies of %s: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Action: "user.deputies", Object: id})
	return u, nil
}

func checkDeputies(ds []Deputy) error {
	for _, d := range ds {
		if (d.Office == "") == (d.User == "") {
			return fmt.Errorf("%w: a deputy stands in for either an office or a user", ErrInvalid)
		}
		if d.Office != "" && !officeIDPattern.MatchString(d.Office) {
			return fmt.Errorf("%w: malformed office id %q", ErrInvalid, d.Office)
		}
		if !d.From.IsZero() && !d.Until.IsZero() && !d.From.Before(d.Until) {
			return fmt.Errorf("%w: deputy period ends (%s) before it starts (%s)", ErrInvalid,
				d.Until.Format("2006-01-02"), d.From.Format("2006-01-02"))
		}
	}
	return nil
}

// User returns a user without its password hash.
func (s *Staff) User(ctx context.Context, id string) (*User, error) {
	u, err := s.store.StaffUser(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("staff: user %s: %w", id, err)
	}
	u.PasswordHash = ""
	return u, nil
}

// List returns a tenant's users ("" = all tenants) by ID, without
// password hashes.
func (s *Staff) List(ctx context.Context, tenant string) ([]*User, error) {
	us, err := s.store.StaffUsers(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("staff: list users: %w", err)
	}
	for _, u := range us {
		u.PasswordHash = ""
	}
	return us, nil
}

// MayWork reports whether the user id of tenant may be given a case of
// office: an enabled caseworker who sees the office's cases at now (see
// Sees). An unknown user may not.
func (s *Staff) MayWork(ctx context.Context, tenant, office, id string) (bool, error) {
	u, err := s.store.StaffUser(ctx, id)
	if errors.Is(err, record.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("staff: user %s: %w", id, err)
	}
	if u.Tenant != tenant || u.Disabled || !slices.Contains(u.Roles, record.RoleCaseworker) {
		return false, nil
	}
	return Sees(u, office, s.now(), s.colleague(ctx)), nil
}

// Sees reports whether u sees the cases of office at now, as the back
// office shows them: an admin sees every office; anyone else their own
// offices and, during a deputy period containing now, the office or the
// offices of the colleague they stand in for (looked up by id with
// colleague, which returns nil for an unknown id). A case should be
// given only to someone who sees it: otherwise it lands where its
// assignee cannot open it.
func Sees(u *User, office string, now time.Time, colleague func(id string) *User) bool {
	if office == "" || u.Disabled {
		return false
	}
	if slices.Contains(u.Roles, record.RoleAdmin) {
		return true
	}
	p := &Principal{User: u, personOffices: personOffices(u, now, colleague)}
	return slices.Contains(p.EffectiveOffices(now), office)
}
