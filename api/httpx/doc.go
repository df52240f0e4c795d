// Package httpx is the HTTP plumbing every audience of Amtsform shares
// (the citizen pages, the JSON API, later the back office): RFC 9457
// problem documents and the mapping of errors to status codes and
// problem types, the one Fiber error handler, language choice, cookies,
// CSRF tokens, security headers, the request context with its deadline,
// the access log, rate limits and template rendering.
//
// It knows no routes of its own and calls neither intake nor the store.
package httpx
