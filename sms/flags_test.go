package sms

import "flag"

// update makes the golden tests of the package rewrite their files instead
// of comparing with them.
var update = flag.Bool("update", false, "rewrite the golden files under testdata and docs/sms-segments.md")
