package engine

import "errors"

// ErrTooLarge reports a document beyond its Limits (see ParseDocument).
// Callers test for it with errors.Is.
var ErrTooLarge = errors.New("too large")
