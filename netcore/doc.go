// Package netcore is the packet core of smolfs: Host, a sans-I/O state
// machine, and the command languages of the ctl and arp files. Below it sit
// netcore/wire (the wire formats), and beside it netcore/capture (the
// never-blocking capture of every frame, and pcap) and netcore/tcpdump (the
// line renderer of the frames files).
//
// Frames flow in from a device (package devices) through Host.Receive, and the
// frames to send flow back out in an Output; timers are deadlines that Host
// reports, never sleeps. Nothing here does I/O, starts a goroutine or reads a
// clock: the caller passes now. The file server (package fs) sees a Host only
// through snapshots, commands and capture subscriptions.
package netcore
