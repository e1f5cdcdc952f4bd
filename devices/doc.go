// Package devices is where frames come from and go: the file descriptors
// that carry whole Ethernet frames (a Linux tap, an AF_PACKET socket, an
// in-memory socket pair for tests) and the Driver that runs a netcore.Host on
// one of them with the real clock.
//
// The flow is: a frame is read from a Device by the Driver's goroutine,
// handed to Host.Receive; the frames the Host wants sent (replies, ARP
// requests, frames produced by commands that the file server passes to
// Driver.Exec) are written back to the same Device by that goroutine, and the
// Host's events go to the callback given to NewDriver. The file server sees
// the Host only through the Driver: Snapshot, Exec and Subscribe.
//
// Packet is also the capture side of `smolfs dump`: it reads every frame an
// interface sends or receives with the kernel's timestamp, as tcpdump does.
package devices
