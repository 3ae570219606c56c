// Package sms serves the catalog as SMS dialogues over Twilio and Kannel:
// one reply per step, keywords (MENU, STOP, START, HELP), and rendering
// within SMS segments.
package sms
