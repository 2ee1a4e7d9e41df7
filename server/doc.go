// Package server serves Fengqiao over HTTP: the JSON API of a station (and, later, of a hub),
// health checks, and the lifecycle of an HTTP server that shuts down in order.
//
// It holds no domain rules: validation and the workflow live in package cases, storage in
// package node. Handlers translate between HTTP and those packages, and every error reaches
// the client as JSON {"error": {"code", "message", "field"}} with a fitting status.
package server
