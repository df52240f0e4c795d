// Package sweep runs the lifecycle jobs of stored applications: it
// deletes expired drafts and, per the service's retention period,
// submissions with their files and events, leaving a tombstone without
// personal data. It owns the store interface it consumes.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// Store is what the sweeper needs of a store.
type Store interface {
	// AcquireLease takes or renews the named lease for holder until
	// now+ttl. It returns false when another holder has an unexpired lease.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	// DeleteExpiredDrafts deletes drafts with Expires <= now and their
	// files not referenced by a submission. It returns the number of drafts.
	DeleteExpiredDrafts(ctx context.Context, now time.Time) (int, error)
	// SubmissionServices returns the service ids that have submissions.
	SubmissionServices(ctx context.Context) ([]string, error)
	// SubmissionsUpdatedBefore returns up to limit submissions of a
	// service whose last change (Updated) is before t.
	SubmissionsUpdatedBefore(ctx context.Context, serviceID string, t time.Time, limit int) ([]record.SubmissionKey, error)
	// DeleteSubmission deletes a submission with its files and events and
	// writes a tombstone event (reference, time, reason). It is idempotent
	// and safe to repeat after a crash. Unless before is zero, a
	// submission changed at or after before is left alone
	// (record.ErrConflict): it was listed as due, and then a caseworker
	// worked on it.
	DeleteSubmission(ctx context.Context, tenant, ref, reason string, at, before time.Time) error
	// RepairEvents copies embedded events that were not yet copied to the
	// event log (e.g. after a crash) and returns how many submissions it
	// repaired.
	RepairEvents(ctx context.Context) (int, error)
}

// Sweeper runs the lifecycle jobs: it deletes expired drafts and, per the
// service's retention period, submissions with their files and events,
// leaving a tombstone event without personal data. Several server
// instances may run it at once: each run first takes a lease in the
// store, and only the holder works.
type Sweeper struct {
	Store Store
	// Retention returns how long a service's submissions are kept after
	// their last change. ok == false keeps them forever.
	Retention func(serviceID string) (d time.Duration, ok bool)
	// Holder identifies this instance (e.g. hostname:pid); default a token.
	Holder string
	// LeaseTTL bounds how long a crashed holder blocks others; default 5m.
	LeaseTTL time.Duration
	// Batch is the number of submissions deleted per service and run; default 500.
	Batch int
	// Duty is the share of time the sweeper works while it deletes
	// submissions, in (0, 1]; default 0.5: after each deletion it rests
	// as long as the deletion took, so a large backlog (retention
	// switched on for a decade of data) never takes more than half a
	// core from serving. 1 disables the rests.
	Duty   float64
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// SweepResult counts what one run did.
type SweepResult struct {
	Skipped           bool // another instance holds the lease
	Drafts            int
	Submissions       int
	RepairedEventLogs int
}

const sweepLease = "sweeper"

// RunOnce performs one sweep if the lease can be taken.
func (s *Sweeper) RunOnce(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	if s.Holder == "" {
		s.Holder = record.NewToken()
	}
	ttl := s.LeaseTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	nowf := s.Now
	if nowf == nil {
		nowf = time.Now
	}
	ok, err := s.Store.AcquireLease(ctx, sweepLease, s.Holder, ttl)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	if !ok {
		res.Skipped = true
		return res, nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.Store.ReleaseLease(rctx, sweepLease, s.Holder)
	}()
	if res.RepairedEventLogs, err = s.Store.RepairEvents(ctx); err != nil {
		return res, fmt.Errorf("sweep: repair events: %w", err)
	}
	now := nowf()
	if res.Drafts, err = s.Store.DeleteExpiredDrafts(ctx, now); err != nil {
		return res, fmt.Errorf("sweep: drafts: %w", err)
	}
	if s.Retention == nil {
		return res, nil
	}
	services, err := s.Store.SubmissionServices(ctx)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	batch := s.Batch
	if batch <= 0 {
		batch = 500
	}
	for _, svc := range services {
		d, ok := s.Retention(svc)
		if !ok {
			continue
		}
		cutoff := now.Add(-d)
		keys, err := s.Store.SubmissionsUpdatedBefore(ctx, svc, cutoff, batch)
		if err != nil {
			return res, fmt.Errorf("sweep: %s: %w", svc, err)
		}
		reason := fmt.Sprintf("retention period of %s expired", d)
		for _, k := range keys {
			t0 := time.Now()
			err := s.Store.DeleteSubmission(ctx, k.Tenant, k.Ref, reason, now, cutoff)
			if err != nil && !errors.Is(err, record.ErrNotFound) && !errors.Is(err, record.ErrConflict) {
				return res, fmt.Errorf("sweep: delete %s: %w", k.Ref, err)
			}
			if err == nil {
				res.Submissions++
			}
			if err := s.rest(ctx, time.Since(t0)); err != nil {
				return res, err
			}
		}
		// Renew the lease between services so long runs keep it.
		if _, err := s.Store.AcquireLease(ctx, sweepLease, s.Holder, ttl); err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
	}
	return res, nil
}

// rest pauses after work that took d, per Duty.
func (s *Sweeper) rest(ctx context.Context, d time.Duration) error {
	duty := s.Duty
	if duty <= 0 || duty > 1 {
		duty = 0.5
	}
	if duty == 1 {
		return nil
	}
	t := time.NewTimer(time.Duration(float64(d) * (1 - duty) / duty))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("sweep: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// Run sweeps every interval until ctx is done. Errors are logged, not
// fatal.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := s.RunOnce(ctx)
		switch {
		case err != nil:
			log.Error("sweep failed", "err", err)
		case !res.Skipped && (res.Drafts > 0 || res.Submissions > 0 || res.RepairedEventLogs > 0):
			log.Info("sweep", "drafts", res.Drafts, "submissions", res.Submissions, "repaired", res.RepairedEventLogs)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
