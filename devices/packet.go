package devices

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packet is an AF_PACKET socket on one interface: it sees every frame the
// interface receives and every frame the kernel sends on it, as tcpdump does,
// with the kernel's timestamps. It is the capture source of `smolfs dump`.
//
// It is also a Device, but a Driver on it would take the frames the kernel
// sends on the interface for frames received: it is meant for ReadFrame.
type Packet struct {
	name     string
	fd       int
	loopback bool // lo: every frame shows up twice, out and in
	wake     *waker
	closed   atomic.Bool
	once     sync.Once
	closeErr error

	// life is held shared by every use of fd, so that Close (which takes it
	// exclusively after waking readers) never closes fd under a reader.
	life sync.RWMutex

	// rmu serialises ReadFrame: the recvmsg scratch below is shared.
	rmu  sync.Mutex
	msg  unix.Msghdr
	iov  unix.Iovec
	from unix.RawSockaddrLinklayer
	oob  [16]uint64 // control messages; uint64 for cmsghdr alignment

	statsMu        sync.Mutex
	recvd, dropped uint64 // PACKET_STATISTICS resets on read: the totals
}

// OpenPacket opens a raw socket (AF_PACKET, SOCK_RAW, ETH_P_ALL) on iface in
// the calling thread's network namespace and, like tcpdump, puts the
// interface in promiscuous mode for as long as the socket is open, so that
// on a real NIC frames for other hardware addresses are seen too. It needs
// CAP_NET_RAW, and an Ethernet (or loopback) interface that is up.
func OpenPacket(iface string) (*Packet, error) {
	if err := checkIfName(iface); err != nil {
		return nil, fmt.Errorf("capture %q: %w", iface, err)
	}
	// Protocol 0 receives nothing until bind names the interface, so no
	// frame from another interface slips in first.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("capture %s: packet socket: %w: run as root (capturing needs CAP_NET_RAW)", iface, err)
		}
		return nil, fmt.Errorf("capture %s: packet socket: %w", iface, err)
	}
	p, err := setupPacket(fd, iface)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capture %s: %w", iface, err)
	}
	return p, nil
}

func setupPacket(fd int, iface string) (*Packet, error) {
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, syscall.ENODEV) {
			return nil, fmt.Errorf("%w: no such interface (see ip link show)", err)
		}
		return nil, fmt.Errorf("interface index: %w", err)
	}
	index := int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(iface)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return nil, fmt.Errorf("link type: %w", err)
	}
	hw := ifr.Uint16() // the sockaddr's family: an ARPHRD_ type
	if hw != unix.ARPHRD_ETHER && hw != unix.ARPHRD_LOOPBACK {
		return nil, fmt.Errorf("%w: not an Ethernet interface (link type %d): only Ethernet frames can be captured", syscall.EINVAL, hw)
	}
	ifr, _ = unix.NewIfreq(iface)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return nil, fmt.Errorf("interface flags: %w", err)
	}
	if ifr.Uint16()&unix.IFF_UP == 0 {
		return nil, fmt.Errorf("%w: the interface is down: ip link set %s up", syscall.ENETDOWN, iface)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return nil, fmt.Errorf("PACKET_AUXDATA: %w", err)
	}
	// tcpdump's default buffer; without CAP_NET_ADMIN the plain option is
	// capped by net.core.rmem_max, which is still better than nothing.
	const rcvbuf = 2 << 20
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	mreq := &unix.PacketMreq{Ifindex: int32(index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
		return nil, fmt.Errorf("promiscuous mode: %w", err)
	}
	w, err := newWaker()
	if err != nil {
		return nil, err
	}
	return &Packet{name: iface, fd: fd, loopback: hw == unix.ARPHRD_LOOPBACK, wake: w}, nil
}

// htons puts v in network byte order, as sockaddr_ll wants its protocol.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// Name is the interface's name.
func (p *Packet) Name() string { return p.name }

// Fd is the socket; it is valid until Close.
func (p *Packet) Fd() int { return p.fd }

// Close wakes a ReadFrame that is waiting (it returns an error wrapping
// net.ErrClosed), waits for it to return, and closes the socket, which also
// ends promiscuous mode. Later calls return the first call's result.
func (p *Packet) Close() error {
	p.once.Do(func() {
		p.closed.Store(true)
		p.wake.signal() // never drained: every later wait sees it too
		p.life.Lock()
		defer p.life.Unlock()
		if err := unix.Close(p.fd); err != nil {
			p.closeErr = fmt.Errorf("close capture %s: %w", p.name, err)
		}
		p.wake.close()
	})
	return p.closeErr
}

// ReadFrame waits for the next frame on the interface and copies it into
// buf: n bytes are in buf (a frame longer than buf is cut), wireLen is its
// length on the wire, t the time the kernel stamped it with (the same stamp
// tcpdump prints for it), and out tells a frame the interface sent from one
// it received. A VLAN tag that the kernel (or the NIC) took out of the frame
// is put back, as libpcap does, so that the bytes are those on the wire. On
// the loopback interface, where every frame is both sent and received, only
// the received copy is returned, again like libpcap.
//
// After Close, and when Close is called while it waits, it returns an error
// wrapping net.ErrClosed. An interface that goes down gives an error
// wrapping syscall.ENETDOWN (once; reading again waits until it is up).
func (p *Packet) ReadFrame(buf []byte) (n, wireLen int, t time.Time, out bool, err error) {
	p.life.RLock()
	defer p.life.RUnlock()
	p.rmu.Lock()
	defer p.rmu.Unlock()
	fds := [2]unix.PollFd{
		{Fd: int32(p.fd), Events: unix.POLLIN},
		{Fd: int32(p.wake.fd), Events: unix.POLLIN},
	}
	for {
		if p.closed.Load() {
			return 0, 0, time.Time{}, false, fmt.Errorf("capture %s: %w", p.name, net.ErrClosed)
		}
		n, wireLen, t, out, err = p.recv(buf)
		switch {
		case err == nil && out && p.loopback:
			continue
		case err == nil:
			return n, wireLen, t, out, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, 0, time.Time{}, false, fmt.Errorf("capture %s: %w", p.name, err)
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds[:], -1); err != nil && err != unix.EINTR {
			return 0, 0, time.Time{}, false, fmt.Errorf("capture %s: poll: %w", p.name, err)
		}
	}
}

// recv takes one frame off the socket without waiting. It makes the system
// call itself, with the scratch in p, because unix.Recvmsg allocates a
// Sockaddr and control messages for every frame.
func (p *Packet) recv(buf []byte) (n, wireLen int, t time.Time, out bool, err error) {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&p.oob[0])), len(p.oob)*8)
	p.iov.SetLen(len(buf))
	if len(buf) > 0 {
		p.iov.Base = &buf[0]
	}
	p.msg = unix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(&p.from)),
		Namelen: unix.SizeofSockaddrLinklayer,
		Iov:     &p.iov,
		Control: &oob[0],
	}
	p.msg.SetIovlen(1)
	p.msg.SetControllen(len(oob))
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(p.fd), uintptr(unsafe.Pointer(&p.msg)),
		unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	p.iov.Base = nil // do not keep the caller's buffer alive
	if errno != 0 {
		return 0, 0, time.Time{}, false, errno
	}
	wireLen = int(r) // MSG_TRUNC: the whole frame's length, even if cut
	n = min(wireLen, len(buf))
	out = p.from.Pkttype == unix.PACKET_OUTGOING

	c := parseControl(oob[:p.msg.Controllen])
	if c.haveTime {
		t = time.Unix(c.time.Unix())
	} else {
		t = time.Now() // the kernel stamps every frame with SO_TIMESTAMPNS on
	}
	if c.haveAux && c.aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
		tpid := uint16(unix.ETH_P_8021Q)
		if c.aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = c.aux.Vlan_tpid
		}
		n, wireLen = insertVLAN(buf, n, tpid, c.aux.Vlan_tci), wireLen+vlanTagLen
	}
	return n, wireLen, t, out, nil
}

// control is what recvmsg's control messages say about a frame.
type control struct {
	time     unix.Timespec // SCM_TIMESTAMPNS
	aux      unix.TpacketAuxdata
	haveTime bool
	haveAux  bool
}

// parseControl reads the control messages in b. It copies each into an
// aligned value, so b needs no alignment, and it stops at the first
// malformed header.
func parseControl(b []byte) control {
	var c control
	hdrLen := unix.CmsgLen(0)
	for len(b) >= hdrLen {
		var h unix.Cmsghdr
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h)), b)
		l := int(h.Len)
		if l < hdrLen || l > len(b) {
			break
		}
		data := b[hdrLen:l]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(c.time)):
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&c.time)), unsafe.Sizeof(c.time)), data)
			c.haveTime = true
		case h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && len(data) >= int(unsafe.Sizeof(c.aux)):
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&c.aux)), unsafe.Sizeof(c.aux)), data)
			c.haveAux = true
		}
		next := unix.CmsgSpace(l - hdrLen)
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return c
}

// vlanTagLen is the size of an 802.1Q tag: TPID and TCI.
const vlanTagLen = 4

// insertVLAN puts an 802.1Q tag after the two MAC addresses of the n-byte
// frame in buf and returns its new length (cut at len(buf)).
func insertVLAN(buf []byte, n int, tpid, tci uint16) int {
	const at = 12 // after destination and source MAC
	if n < at || len(buf) < at+vlanTagLen {
		return n
	}
	copy(buf[at+vlanTagLen:], buf[at:n])
	binary.BigEndian.PutUint16(buf[at:], tpid)
	binary.BigEndian.PutUint16(buf[at+2:], tci)
	return min(n+vlanTagLen, len(buf))
}

// Stats are the socket's totals since it was opened: frames the kernel
// handed to it (including those it then dropped) and frames it dropped
// because the reader was too slow; what tcpdump prints as "received by
// filter" and "dropped by kernel".
func (p *Packet) Stats() (received, dropped uint64, err error) {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.closed.Load() {
		return 0, 0, fmt.Errorf("capture %s: %w", p.name, net.ErrClosed)
	}
	st, err := unix.GetsockoptTpacketStats(p.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, fmt.Errorf("capture %s: PACKET_STATISTICS: %w", p.name, err)
	}
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	// Packets already includes Drops, as libpcap's ps_recv does.
	p.recvd += uint64(st.Packets)
	p.dropped += uint64(st.Drops)
	return p.recvd, p.dropped, nil
}
