package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// Staff accounts, sessions, API tokens and sign-in throttles
// (engine/staff.Store). Every read is by _id except the listings and
// the deletion of a user's sessions, which are rare. Uniqueness of user
// names, session ids and token ids comes from inserts; the conditional
// writes (user versions, failure counts) hold the document's key lock,
// so that they are exclusive on FerretDB too (one process, see the
// package doc), and carry their condition in the filter on MongoDB.

const (
	collStaffUsers    = "staff_users"
	collStaffSessions = "staff_sessions"
	collAPITokens     = "api_tokens"
	collLoginThrottle = "login_throttle"
)

func (s *Store) staffColl(name string) *mongo.Collection { return s.db.Collection(name) }

// ensureStaffIndexes creates the staff collections and their indexes.
func (s *Store) ensureStaffIndexes(ctx context.Context) error {
	for _, n := range []string{collStaffUsers, collStaffSessions, collAPITokens, collLoginThrottle} {
		if err := s.db.CreateCollection(ctx, n); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongostore: create collection %s: %w", n, err)
		}
	}
	if s.ferret { // non-unique indexes serve nothing there (see ensureIndexes)
		return nil
	}
	for n, keys := range map[string]bson.D{
		collStaffUsers:    {{Key: "tenant", Value: 1}, {Key: "_id", Value: 1}}, // list a tenant's users
		collStaffSessions: {{Key: "user", Value: 1}},                           // end a user's sessions
		collAPITokens:     {{Key: "tenant", Value: 1}, {Key: "_id", Value: 1}}, // list a tenant's tokens
	} {
		if _, err := s.staffColl(n).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: options.Index().SetName("staff_" + n)}); err != nil {
			return fmt.Errorf("mongostore: create index on %s: %w", n, err)
		}
	}
	return nil
}

type deputyDoc struct {
	Office string    `bson:"office,omitempty"`
	User   string    `bson:"user,omitempty"`
	From   time.Time `bson:"from,omitempty"`
	Until  time.Time `bson:"until,omitempty"`
}

type staffUserDoc struct {
	ID           string      `bson:"_id"`
	Tenant       string      `bson:"tenant"`
	Name         string      `bson:"name"`
	Email        string      `bson:"email,omitempty"`
	Roles        []string    `bson:"roles"`
	Offices      []string    `bson:"offices"`
	Deputies     []deputyDoc `bson:"deputies,omitempty"`
	Disabled     bool        `bson:"disabled"`
	Source       string      `bson:"source"`
	PasswordHash string      `bson:"password,omitempty"`
	Epoch        int64       `bson:"epoch"`
	Created      time.Time   `bson:"created"`
	Updated      time.Time   `bson:"updated"`
	Version      int64       `bson:"version"`
}

func toUserDoc(u *record.User) staffUserDoc {
	d := staffUserDoc{ID: u.ID, Tenant: u.Tenant, Name: u.Name, Email: u.Email, Roles: nonNil(u.Roles), Offices: nonNil(u.Offices),
		Disabled: u.Disabled, Source: u.Source, PasswordHash: u.PasswordHash, Epoch: u.Epoch,
		Created: bsonTime(u.Created), Updated: bsonTime(u.Updated), Version: u.Version}
	for _, x := range u.Deputies {
		d.Deputies = append(d.Deputies, deputyDoc{Office: x.Office, User: x.User, From: zeroOrBSON(x.From), Until: zeroOrBSON(x.Until)})
	}
	return d
}

func (d staffUserDoc) user() *record.User {
	u := &record.User{ID: d.ID, Tenant: d.Tenant, Name: d.Name, Email: d.Email, Roles: d.Roles, Offices: d.Offices,
		Disabled: d.Disabled, Source: d.Source, PasswordHash: d.PasswordHash, Epoch: d.Epoch,
		Created: d.Created.UTC(), Updated: d.Updated.UTC(), Version: d.Version}
	for _, x := range d.Deputies {
		u.Deputies = append(u.Deputies, record.Deputy{Office: x.Office, User: x.User, From: zeroOrUTC(x.From), Until: zeroOrUTC(x.Until)})
	}
	return u
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func zeroOrBSON(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return bsonTime(t)
}

func zeroOrUTC(t time.Time) time.Time {
	if t.IsZero() || t.Unix() <= -62135596800 { // BSON's reading of the zero time
		return time.Time{}
	}
	return t.UTC()
}

// CreateStaffUser implements staff.Store.
func (s *Store) CreateStaffUser(ctx context.Context, u *record.User) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.staffColl(collStaffUsers).InsertOne(ctx, toUserDoc(u))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: user %s exists: %w", u.ID, record.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("mongostore: create user: %w", err)
	}
	return nil
}

// StaffUser implements staff.Store.
func (s *Store) StaffUser(ctx context.Context, id string) (*record.User, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d staffUserDoc
	err := s.staffColl(collStaffUsers).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: user %s: %w", id, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: user %s: %w", id, err)
	}
	return d.user(), nil
}

// UpdateStaffUser implements staff.Store.
func (s *Store) UpdateStaffUser(ctx context.Context, u *record.User, expectVersion int64) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey(collStaffUsers, u.ID)()
	c := s.staffColl(collStaffUsers)
	filter := bson.D{{Key: "_id", Value: u.ID}}
	if s.ferret {
		var cur struct {
			Version int64 `bson:"version"`
		}
		err := c.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&cur)
		if isNoDocs(err) {
			return fmt.Errorf("mongostore: user %s: %w", u.ID, record.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("mongostore: update user %s: %w", u.ID, err)
		}
		if cur.Version != expectVersion {
			return fmt.Errorf("mongostore: user %s changed meanwhile: %w", u.ID, record.ErrConflict)
		}
	} else {
		filter = append(filter, bson.E{Key: "version", Value: expectVersion})
	}
	d := toUserDoc(u)
	d.Version = expectVersion + 1
	res, err := c.ReplaceOne(ctx, filter, d)
	if err != nil {
		return fmt.Errorf("mongostore: update user %s: %w", u.ID, err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.StaffUser(ctx, u.ID); err != nil {
			return err
		}
		return fmt.Errorf("mongostore: user %s changed meanwhile: %w", u.ID, record.ErrConflict)
	}
	u.Version = d.Version
	return nil
}

// StaffUsers implements staff.Store.
func (s *Store) StaffUsers(ctx context.Context, tenant string) ([]*record.User, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	filter := bson.D{}
	if tenant != "" {
		filter = bson.D{{Key: "tenant", Value: tenant}}
	}
	cur, err := s.staffColl(collStaffUsers).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: list users: %w", err)
	}
	var docs []staffUserDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: list users: %w", err)
	}
	out := make([]*record.User, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.user())
	}
	return out, nil
}

type sessionDoc struct {
	ID       string    `bson:"_id"`
	User     string    `bson:"user"`
	Tenant   string    `bson:"tenant"`
	Epoch    int64     `bson:"epoch"`
	CSRF     string    `bson:"csrf"`
	Addr     string    `bson:"addr,omitempty"`
	Created  time.Time `bson:"created"`
	LastSeen time.Time `bson:"lastSeen"`
	Expires  time.Time `bson:"expires"`
}

// CreateStaffSession implements staff.Store.
func (s *Store) CreateStaffSession(ctx context.Context, x *record.Session) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.staffColl(collStaffSessions).InsertOne(ctx, sessionDoc{ID: x.ID, User: x.User, Tenant: x.Tenant, Epoch: x.Epoch,
		CSRF: x.CSRF, Addr: x.Addr, Created: bsonTime(x.Created), LastSeen: bsonTime(x.LastSeen), Expires: bsonTime(x.Expires)})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: session exists: %w", record.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("mongostore: create session: %w", err)
	}
	return nil
}

// StaffSession implements staff.Store.
func (s *Store) StaffSession(ctx context.Context, id string) (*record.Session, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d sessionDoc
	err := s.staffColl(collStaffSessions).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: session: %w", record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: session: %w", err)
	}
	return &record.Session{ID: d.ID, User: d.User, Tenant: d.Tenant, Epoch: d.Epoch, CSRF: d.CSRF, Addr: d.Addr,
		Created: d.Created.UTC(), LastSeen: d.LastSeen.UTC(), Expires: d.Expires.UTC()}, nil
}

// TouchStaffSession implements staff.Store.
func (s *Store) TouchStaffSession(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.staffColl(collStaffSessions).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lastSeen", Value: bsonTime(at)}}}})
	if err != nil {
		return fmt.Errorf("mongostore: touch session: %w", err)
	}
	return nil
}

// DeleteStaffSession implements staff.Store.
func (s *Store) DeleteStaffSession(ctx context.Context, id string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if _, err := s.staffColl(collStaffSessions).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("mongostore: delete session: %w", err)
	}
	return nil
}

// DeleteStaffSessions implements staff.Store.
func (s *Store) DeleteStaffSessions(ctx context.Context, user string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if _, err := s.staffColl(collStaffSessions).DeleteMany(ctx, bson.D{{Key: "user", Value: user}}); err != nil {
		return fmt.Errorf("mongostore: delete sessions of %s: %w", user, err)
	}
	return nil
}

type tokenDoc struct {
	ID       string    `bson:"_id"`
	Tenant   string    `bson:"tenant"`
	Name     string    `bson:"name"`
	Offices  []string  `bson:"offices"`
	Roles    []string  `bson:"roles"`
	Hash     string    `bson:"hash"`
	Created  time.Time `bson:"created"`
	LastUsed time.Time `bson:"lastUsed,omitempty"`
	Revoked  time.Time `bson:"revoked,omitempty"`
}

func (d tokenDoc) token() *record.APIToken {
	return &record.APIToken{ID: d.ID, Tenant: d.Tenant, Name: d.Name, Offices: d.Offices, Roles: d.Roles, Hash: d.Hash,
		Created: d.Created.UTC(), LastUsed: zeroOrUTC(d.LastUsed), Revoked: zeroOrUTC(d.Revoked)}
}

// CreateAPIToken implements staff.Store.
func (s *Store) CreateAPIToken(ctx context.Context, t *record.APIToken) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.staffColl(collAPITokens).InsertOne(ctx, tokenDoc{ID: t.ID, Tenant: t.Tenant, Name: t.Name,
		Offices: nonNil(t.Offices), Roles: nonNil(t.Roles), Hash: t.Hash, Created: bsonTime(t.Created)})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: token %s exists: %w", t.ID, record.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("mongostore: create token: %w", err)
	}
	return nil
}

// APIToken implements staff.Store.
func (s *Store) APIToken(ctx context.Context, id string) (*record.APIToken, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d tokenDoc
	err := s.staffColl(collAPITokens).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: token %s: %w", id, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: token %s: %w", id, err)
	}
	return d.token(), nil
}

// APITokens implements staff.Store.
func (s *Store) APITokens(ctx context.Context, tenant string) ([]*record.APIToken, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	filter := bson.D{}
	if tenant != "" {
		filter = bson.D{{Key: "tenant", Value: tenant}}
	}
	cur, err := s.staffColl(collAPITokens).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: list tokens: %w", err)
	}
	var docs []tokenDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: list tokens: %w", err)
	}
	out := make([]*record.APIToken, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.token())
	}
	return out, nil
}

// RevokeAPIToken implements staff.Store. The first revocation time stays.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey(collAPITokens, id)()
	t, err := s.APIToken(ctx, id)
	if err != nil {
		return err
	}
	if !t.Revoked.IsZero() {
		return nil
	}
	_, err = s.staffColl(collAPITokens).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: bsonTime(at)}}}})
	if err != nil {
		return fmt.Errorf("mongostore: revoke token %s: %w", id, err)
	}
	return nil
}

// TouchAPIToken implements staff.Store.
func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.staffColl(collAPITokens).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lastUsed", Value: bsonTime(at)}}}})
	if err != nil {
		return fmt.Errorf("mongostore: touch token %s: %w", id, err)
	}
	return nil
}

type throttleDoc struct {
	Key         string    `bson:"_id"`
	Count       int       `bson:"count"`
	Start       time.Time `bson:"start"`
	LockedUntil time.Time `bson:"lockedUntil,omitempty"`
}

func (d throttleDoc) throttle() record.Throttle {
	return record.Throttle{Key: d.Key, Count: d.Count, Start: zeroOrUTC(d.Start), LockedUntil: zeroOrUTC(d.LockedUntil)}
}

// LoginThrottle implements staff.Store.
func (s *Store) LoginThrottle(ctx context.Context, key string) (record.Throttle, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d throttleDoc
	err := s.staffColl(collLoginThrottle).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if isNoDocs(err) {
		return record.Throttle{Key: key}, nil
	}
	if err != nil {
		return record.Throttle{}, fmt.Errorf("mongostore: login throttle: %w", err)
	}
	return d.throttle(), nil
}

// AddLoginFailure implements staff.Store. On MongoDB the count is one
// atomic $inc within the current window; only the start of a new window
// may lose a concurrent failure. On FerretDB the key lock serialises it.
func (s *Store) AddLoginFailure(ctx context.Context, key string, at time.Time, window time.Duration) (record.Throttle, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey(collLoginThrottle, key)()
	c := s.staffColl(collLoginThrottle)
	at = bsonTime(at)
	byID := bson.D{{Key: "_id", Value: key}}
	fresh := func() (record.Throttle, error) {
		_, err := c.UpdateOne(ctx, byID, bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: 1}, {Key: "start", Value: at}}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return record.Throttle{}, fmt.Errorf("mongostore: login failure: %w", err)
		}
		return s.LoginThrottle(ctx, key)
	}
	if s.ferret {
		t, err := s.LoginThrottle(ctx, key)
		if err != nil {
			return t, err
		}
		if t.Start.IsZero() || t.Start.Before(at.Add(-window)) {
			return fresh()
		}
		_, err = c.UpdateOne(ctx, byID, bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: t.Count + 1}}}})
		if err != nil {
			return record.Throttle{}, fmt.Errorf("mongostore: login failure: %w", err)
		}
		t.Count++
		return t, nil
	}
	var d throttleDoc
	err := c.FindOneAndUpdate(ctx, append(byID, bson.E{Key: "start", Value: bson.D{{Key: "$gte", Value: at.Add(-window)}}}),
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if isNoDocs(err) {
		return fresh()
	}
	if err != nil {
		return record.Throttle{}, fmt.Errorf("mongostore: login failure: %w", err)
	}
	return d.throttle(), nil
}

// LockLogin implements staff.Store.
func (s *Store) LockLogin(ctx context.Context, key string, until time.Time) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey(collLoginThrottle, key)()
	_, err := s.staffColl(collLoginThrottle).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lockedUntil", Value: bsonTime(until)}, {Key: "count", Value: 0}, {Key: "start", Value: time.Unix(0, 0).UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: lock login: %w", err)
	}
	return nil
}

// ClearLoginFailures implements staff.Store.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey(collLoginThrottle, key)()
	_, err := s.staffColl(collLoginThrottle).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "count", Value: 0}}}})
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongostore: clear login failures: %w", err)
	}
	return nil
}

// DeleteStaleStaffSessions implements staff.Store.
func (s *Store) DeleteStaleStaffSessions(ctx context.Context, expiredBefore, idleBefore time.Time) (int, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	res, err := s.staffColl(collStaffSessions).DeleteMany(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: bsonTime(expiredBefore)}}}},
		bson.D{{Key: "lastSeen", Value: bson.D{{Key: "$lt", Value: bsonTime(idleBefore)}}}},
	}}})
	if err != nil {
		return 0, fmt.Errorf("mongostore: delete stale sessions: %w", err)
	}
	return int(res.DeletedCount), nil
}

// DeleteStaleLoginThrottles implements staff.Store.
func (s *Store) DeleteStaleLoginThrottles(ctx context.Context, windowBefore, now time.Time) (int, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	res, err := s.staffColl(collLoginThrottle).DeleteMany(ctx, bson.D{
		{Key: "start", Value: bson.D{{Key: "$lt", Value: bsonTime(windowBefore)}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "lockedUntil", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "lockedUntil", Value: bson.D{{Key: "$lt", Value: bsonTime(now)}}}},
		}},
	})
	if err != nil {
		return 0, fmt.Errorf("mongostore: delete stale login throttles: %w", err)
	}
	return int(res.DeletedCount), nil
}
