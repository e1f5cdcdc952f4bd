// Package uring is a small io_uring binding on golang.org/x/sys/unix, made
// for one job: moving Ethernet frames between a tap fd and netcore.Host
// with one system call per batch of frames instead of one read and one
// write per frame.
//
// In the flow (frame in from a device, netcore, frames out) it sits under
// the driver in devices/: Frames keeps a multishot read armed on the tap,
// receiving into provided buffers, and writes the frames the host returns
// in the same io_uring_enter that waits for the next ones. On a busy tap
// that measured 2.4-3.7x the replies/s of a blocking read/write loop at a
// fifth to a third of its CPU per frame (see the package README for the
// figures).
//
// Ring is the low level: New, GetSQE and the Prep* methods, Submit /
// SubmitAndWait / SubmitAndWaitTimeout, Completions, registered buffers
// and files, provided-buffer rings (NewBufRing) and Close. It covers the
// operations the driver needs (read, write, their fixed-buffer forms,
// multishot read, poll, cancel, nop) and no more.
//
// Why not a module: the Go io_uring modules (giouring, iouring-go,
// go-uring) are served only at exact pseudo-versions, unmaintained since
// 2023 (giouring: nine commits, no tags) or built around their own
// goroutines and callbacks, and each would add dependencies for what is a
// few hundred lines of ABI mirroring here.
//
// Memory the kernel reads or writes (buffers, the rings) must stay put
// until the completion is seen. The rings and Frames' buffers come from
// mmap, outside the Go heap; buffers passed to Prep* are the caller's to
// keep referenced.
package uring
