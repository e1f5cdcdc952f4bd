package netcore

import (
	"net/netip"
	"time"
)

// EventKind classifies an Event.
type EventKind uint8

// Kinds of events a host reports.
const (
	EventUp         EventKind = iota + 1 // the host came up
	EventDown                            // the host went down (by command or because its device failed)
	EventConflict                        // another station claims one of our addresses
	EventUnresolved                      // an address did not answer ARP; its waiting frames were dropped
)

// Event is something a host reports for the log.
type Event struct {
	Time time.Time
	Host string
	Kind EventKind
	Addr netip.Addr // the address concerned (conflict, unresolved); invalid for others
	Msg  string
}

func (e Event) String() string { return e.Host + ": " + e.Msg }

// event reports something for the log.
func (h *Host) event(now time.Time, kind EventKind, addr netip.Addr, msg string, out *Output) {
	out.Events = append(out.Events, Event{Time: now, Host: h.cfg.Name, Kind: kind, Addr: addr, Msg: msg})
}
