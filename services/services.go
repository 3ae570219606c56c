// Package services is the shipped catalog: one YAML flow definition per
// government service, embedded so that `channels serve` needs no files.
package services

import "embed"

// FS holds the shipped service definitions (*.yaml at its root).
//
//go:embed *.yaml
var FS embed.FS
