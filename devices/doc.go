// Package devices is where frames come from and go: the file descriptors
// that carry whole Ethernet frames (a Linux tap, an AF_PACKET socket, an
// in-memory socket pair for tests) and the Driver that runs a netcore.Host on
// one of them with the real clock.
//
// The flow is: a frame is read from a Device by a loop's goroutine, handed
// to its Host's Receive; the frames the Host wants sent (replies, ARP
// requests, frames produced by commands that the file server passes to
// Driver.Exec or Driver.Do) are written back to the same Device by that
// goroutine, and the Host's events and conversation wake-ups go to the
// callbacks given to Pool.Start (or NewDriver). The file server sees the
// Host only through the Driver: Snapshot, Exec, Do and Subscribe.
//
// One loop serves many hosts (Pool; NewDriver is a pool of one): a
// goroutine locked to its OS thread that moves the frames of all its
// devices through one back end, io_uring (one ring, one pool of buffers) or
// epoll where the kernel lacks multishot reads. A server's threads and
// buffers grow with its loops, one per core, not with its hosts.
//
// Packet is also the capture side of `smolfs dump`: it reads every frame an
// interface sends or receives with the kernel's timestamp, as tcpdump does.
package devices
