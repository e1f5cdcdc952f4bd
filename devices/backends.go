package devices

import (
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/devices/uring"
)

// ringIO is the io_uring back end: one uring.Frames for all the loop's
// devices. A busy device costs one system call per batch of frames, for
// both ways, rather than a read and a write per frame.
type ringIO struct {
	f *uring.Frames
	l *loop
}

func (r *ringIO) add(fd int) (int, error) { return r.f.Add(fd) }

func (r *ringIO) remove(port int) int {
	lost, err := r.f.Remove(port)
	if err != nil {
		r.l.pool.opts.logger.Warn("driver: removing a device from the ring", "loop", r.l.name, "err", err)
	}
	return lost
}

func (r *ringIO) send(port int, frame []byte) error { return r.f.Send(port, frame) }

func (r *ringIO) waitSendable(port int, until time.Time) bool {
	return r.f.WaitSendable(port, until, r.l.interrupted)
}

func (r *ringIO) exchange(timeout time.Duration) (bool, error) { return r.f.Exchange(timeout, r.l) }

func (r *ringIO) close() {
	if err := r.f.Close(); err != nil {
		r.l.pool.opts.logger.Debug("driver: closing the ring", "loop", r.l.name, "err", err)
	}
}

// pollIO is the back end for kernels without io_uring's multishot reads
// (or where the ring cannot be set up): epoll over the devices, a read(2)
// per frame until EAGAIN (at most rxBatch per device and turn, so that one
// flood leaves the others their turn), a write(2) per frame.
type pollIO struct {
	l       *loop
	epfd    int
	fds     []int  // by port; -1: free
	stopped []bool // by port: Stopped was reported
	vnet    []bool // by port: frames carry a virtio-net header
	free    []int
	evs     [128]unix.EpollEvent
	rbuf    []byte
}

// wakePort marks the loop's waker in epoll's data (ports are stored + 1).
const wakePort = 0

func newPollIO(l *loop) (*pollIO, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakePort}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, l.wake.fd, &ev); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &pollIO{l: l, epfd: epfd, rbuf: make([]byte, maxFrameLen)}, nil
}

func (p *pollIO) add(fd int) (int, error) {
	port := len(p.fds)
	if n := len(p.free); n > 0 {
		port = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		p.fds = append(p.fds, -1)
		p.stopped = append(p.stopped, false)
		p.vnet = append(p.vnet, false)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(port + 1)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.free = append(p.free, port)
		return -1, fmt.Errorf("epoll_ctl: %w", err)
	}
	p.fds[port], p.stopped[port], p.vnet[port] = fd, false, false
	return port, nil
}

func (p *pollIO) remove(port int) int {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, p.fds[port], nil)
	p.fds[port] = -1
	p.free = append(p.free, port)
	return 0
}

func (p *pollIO) send(port int, frame []byte) error {
	for {
		var err error
		if p.vnet[port] {
			_, err = unix.Writev(p.fds[port], [][]byte{vnetZero[:], frame})
		} else {
			_, err = unix.Write(p.fds[port], frame)
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			return errSendFull
		}
		return err
	}
}

// waitSendable waits in ppoll for the device to take writes, until, or the
// loop's urgent flag; other wake-ups (Exec) do not cut the wait short, and
// are passed on to the loop's next turn.
func (p *pollIO) waitSendable(port int, until time.Time) bool {
	fds := [2]unix.PollFd{
		{Fd: int32(p.fds[port]), Events: unix.POLLOUT},
		{Fd: int32(p.l.wake.fd), Events: unix.POLLIN},
	}
	woken := false
	defer func() {
		if woken {
			p.l.wake.signal() // for the next turn
		}
	}()
	for {
		left := time.Until(until)
		if left <= 0 || p.l.urgent.Load() {
			return false
		}
		ts := unix.NsecToTimespec(int64(left))
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Ppoll(fds[:], &ts, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return false
		case fds[0].Revents != 0:
			// Writable, or an error that the next write reports.
			return true
		case fds[1].Revents != 0:
			p.l.wake.drain()
			woken = true
		}
	}
}

func (p *pollIO) exchange(timeout time.Duration) (woken bool, err error) {
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := unix.EpollWait(p.epfd, p.evs[:], ms)
	if err == unix.EINTR {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, ev := range p.evs[:n] {
		if ev.Fd == wakePort {
			woken = true
			continue
		}
		p.receive(int(ev.Fd)-1, ev.Events)
	}
	return woken, nil
}

// errHangup is a device whose poll says it hung up though nothing is left
// to read.
var errHangup = errors.New("the device hung up (POLLHUP)")

// receive reads up to rxBatch frames from port into the loop.
func (p *pollIO) receive(port int, events uint32) {
	fd := p.fds[port]
	if fd < 0 || p.stopped[port] {
		return
	}
	hup := events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
	for range rxBatch {
		n, err := unix.Read(fd, p.rbuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if hup {
				p.stop(port, errHangup)
			}
			return
		case err != nil:
			p.stop(port, err)
			return
		case n == 0 && (hup || hungUp(fd)):
			p.stop(port, io.EOF)
			return
		}
		if p.vnet[port] {
			if f, o, ok := vnetRx(p.rbuf[:n]); ok {
				p.l.FrameOffloaded(port, f, o)
			}
			continue
		}
		p.l.Frame(port, p.rbuf[:n])
	}
}

func (p *pollIO) stop(port int, err error) {
	p.stopped[port] = true
	p.l.Stopped(port, err)
}

func (p *pollIO) close() { unix.Close(p.epfd) }

// hungUp reports whether fd's other side has closed: a zero-length read
// means that or an empty message, and only poll tells them apart.
func hungUp(fd int) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0
}

// deadIO is the back end of a loop that could set up none: every device
// fails at once, and the loop still answers its requests.
type deadIO struct {
	err  error
	wake *waker
}

func (d *deadIO) add(int) (int, error)             { return -1, d.err }
func (d *deadIO) remove(int) int                   { return 0 }
func (d *deadIO) send(int, []byte) error           { return d.err }
func (d *deadIO) waitSendable(int, time.Time) bool { return false }
func (d *deadIO) close()                           {}
func (d *deadIO) exchange(time.Duration) (bool, error) {
	fds := [1]unix.PollFd{{Fd: int32(d.wake.fd), Events: unix.POLLIN}}
	_, err := unix.Ppoll(fds[:], nil, nil)
	return err == nil && fds[0].Revents != 0, nil
}

// waker is an eventfd that interrupts the loop's wait.
type waker struct {
	fd  int
	buf [8]byte
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: fd}, nil
}

// signal wakes the loop. Any non-zero count wakes it (so byte order does
// not matter), and a full counter already means "wake up": errors do not
// matter either.
func (w *waker) signal() {
	if w.fd < 0 {
		return
	}
	one := [8]byte{1}
	unix.Write(w.fd, one[:])
}

// drain resets the counter; only the loop calls it.
func (w *waker) drain() { unix.Read(w.fd, w.buf[:]) }

func (w *waker) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
