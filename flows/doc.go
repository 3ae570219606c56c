// Package flows is the service-flow engine: the definition of a service
// (YAML, one file a service, checked by Load with file:line reasons), and
// a pure step function (Engine.Start, Step, Complete) from a State and a
// citizen's input to a channel-neutral Screen. Work with side effects (a
// case to store, cases to read, an agency to ask) comes back as a Call
// that Engine.Settle carries out through a Host; flows itself does no I/O.
//
// A call step asks an agency's operation and goes on by its outcome:
//
//   - id: pin_status
//     kind: call
//     operation: pin_status     # of the service's agency, or agency: ID
//     send: [pin]               # answers or earlier results, by name
//     deadline: 4s              # the default; 500ms to 8s
//     later: true               # a timed-out call is finished in the background
//     returns:
//     status: {type: text, values: [valid, invalid, suspended], required: true}
//     name: {type: text, max_length: 40, unicode: true}
//     slots: {type: list, item: datetime, max_items: 5}
//     exits: {found: show, not_found: no_pin, failed: try_later, timeout: by_sms}
//
// Found, the returns are kept on the trail: texts show them as
// {{.Result.name}} (dates as 02/01/2006, datetimes as "02/01/2006 15:04"
// in the engine's Location), branches read them as result.status, later
// calls send them, and a menu offers a list with options_from: slots. A
// submit step with next and field keeps the case's reference under field
// and goes on. A call with changes: true may remind the citizen before an
// answered datetime (remind: {at, before, key, text}) or cancel that
// reminder (remind: {key, cancel: true}). Engine.Later gives the end
// screen of a call finished in the background, which the host sends.
package flows
