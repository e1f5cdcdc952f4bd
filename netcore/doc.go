// Package netcore is the packet core of smolfs: Host, a sans-I/O state
// machine, and the command languages of a host's ctl and arp files.
//
// Frames flow in from a device (package devices) through Host.Receive, and the
// frames to send flow back out in an Output; timers are deadlines that Host
// reports, never sleeps. Nothing here does I/O, starts a goroutine or reads a
// clock: the caller passes now. The file server (package fs) sees a Host only
// through snapshots, commands and capture subscriptions.
//
// A protocol is a file: host.go receives a frame and hands it on by
// ethertype, arp.go, ipv4.go and ipv6.go take it from there, ipv4.go hands
// datagrams on by protocol to icmp.go, udp.go and tcp.go (conv.go is the
// conversation machinery they fill in; tcp.go is the glue to the engine,
// netcore/tcp), ipv6.go walks the extension headers
// (frag6.go reassembles) to icmpv6.go, which hands neighbour discovery to
// ndp.go, router advertisements to slaac.go (the IPv6 addresses) and MLD to
// mld.go. neighbour.go is the neighbour table of both families,
// timers.go the one heap of deadlines that Poll drains, commands.go the
// table of ctl and arp commands (commands6.go IPv6's rows), stats.go the counters, events.go what goes
// to the log, snapshot.go what the files show, impair.go the `impair`
// command's flaky link between the device and all of these.
//
// Around it: netcore/wire holds the wire formats, netcore/ctl the machinery
// of the command languages (and the root ctl language), netcore/capture the
// never-blocking capture of every frame and pcap, netcore/tcpdump the line
// renderer of the frames files, netcore/impair the stages of `impair`,
// netcore/tcp the sans-I/O TCP engine.
package netcore
