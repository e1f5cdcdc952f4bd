// Package netcore is the packet core of smolfs: the wire formats (Ethernet II,
// ARP, IPv4, ICMPv4), the tcpdump line renderer, the pcap encoder, the command
// languages of the ctl and arp files, and Host, a sans-I/O state machine.
//
// Frames flow in from a device (package devices) through Host.Receive, and the
// frames to send flow back out in an Output; timers are deadlines that Host
// reports, never sleeps. Nothing here does I/O, starts a goroutine or reads a
// clock: the caller passes now. The file server (package fs) sees a Host only
// through snapshots, commands and capture subscriptions.
package netcore
