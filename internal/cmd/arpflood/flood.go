package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"github.com/smolfs/smolfs/netcore/wire"
	"golang.org/x/sys/unix"
)

const (
	// batch is the most frames one sendmmsg or recvmmsg moves: enough that
	// the generator costs less per frame than the stack it loads.
	batch = 64
	// maxSenders keeps the sender index within the three bytes of the
	// hardware address that number it.
	maxSenders = 1 << 24
	// requestLen is an ARP request in an unpadded Ethernet frame, as the
	// kernel itself sends them on a tap.
	requestLen = wire.EthHeaderLen + wire.ARPLen
	// rcvBuf holds the replies that arrive while a batch is being sent.
	rcvBuf = 4 << 20
)

// senderOUI marks our senders' hardware addresses (locally administered,
// unicast), so that replies to anyone else are not counted.
var senderOUI = [2]byte{0x02, 0xa5}

// result is what a flood did.
type result struct {
	sent, replies, lost int
	seconds             float64 // from the first request to the end
	requestRate         float64 // requests per second while sending
	replyRate           float64 // replies per second until the last one
}

func (r result) String() string {
	return fmt.Sprintf("sent=%d replies=%d lost=%d seconds=%.3f request_rate=%.0f reply_rate=%.0f",
		r.sent, r.replies, r.lost, r.seconds, r.requestRate, r.replyRate)
}

// sender is the i-th sender: consecutive addresses from src, skipping the
// target, each with the hardware address 02:a5:00:ii:ii:ii.
func sender(cfg *config, i int) (netip.Addr, wire.MAC) {
	ip := ipv4(cfg.src) + uint32(i)
	if t := ipv4(cfg.target); ipv4(cfg.src) <= t && ip >= t {
		ip++
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], ip)
	return netip.AddrFrom4(a), wire.MAC{senderOUI[0], senderOUI[1], 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// request writes the i-th sender's who-has into f (requestLen bytes).
func request(cfg *config, i int, f []byte) {
	ip, mac := sender(cfg, i)
	b := wire.EthernetRepr{Dst: cfg.dst, Src: mac, Type: wire.EtherTypeARP}.Append(f[:0])
	wire.ARPRepr{Op: wire.ARPRequest, SenderMAC: mac, SenderIP: ip, TargetIP: cfg.target}.Append(b)
}

// isReply reports whether frame is the target's ARP reply to one of our
// senders.
func isReply(target netip.Addr, frame []byte) bool {
	eth, err := wire.NewEthernetFrame(frame)
	if err != nil || eth.Type() != wire.EtherTypeARP {
		return false
	}
	p, err := wire.NewARPPacket(eth.Payload())
	if err != nil || p.Op() != wire.ARPReply || p.SenderIP() != target {
		return false
	}
	tha := p.TargetMAC()
	return tha[0] == senderOUI[0] && tha[1] == senderOUI[1]
}

// socket is a raw AF_PACKET socket on one interface that sees ARP frames
// arriving there (not the ones it sends), with the buffers of one batch
// each way.
type socket struct {
	fd    int
	tx    [batch][requestLen]byte
	txIov [batch]unix.Iovec
	txHdr [batch]unix.Mmsghdr
	rx    [batch][2048]byte
	rxIov [batch]unix.Iovec
	rxHdr [batch]unix.Mmsghdr
}

func openSocket(iface string) (*socket, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w (it needs root or CAP_NET_RAW)", err)
	}
	s := &socket{fd: fd}
	// Our own requests would come back as outgoing frames: ignore them.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		s.close()
		return nil, fmt.Errorf("PACKET_IGNORE_OUTGOING: %w (the kernel needs to be 4.20 or later)", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		s.close()
		return nil, fmt.Errorf("bind to %s: %w", iface, err)
	}
	for i := range batch {
		s.txIov[i] = unix.Iovec{Base: &s.tx[i][0]}
		s.txIov[i].SetLen(requestLen)
		s.txHdr[i].Hdr.Iov = &s.txIov[i]
		s.txHdr[i].Hdr.Iovlen = 1
		s.rxIov[i] = unix.Iovec{Base: &s.rx[i][0]}
		s.rxIov[i].SetLen(len(s.rx[i]))
		s.rxHdr[i].Hdr.Iov = &s.rxIov[i]
		s.rxHdr[i].Hdr.Iovlen = 1
	}
	return s, nil
}

func (s *socket) close() { unix.Close(s.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// send sends tx[0:n] and returns how many the kernel took; a full socket
// takes fewer (or none), which the caller retries later.
func (s *socket) send(n int) (int, error) {
	for {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.txHdr[0])), uintptr(n), 0, 0, 0)
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			return 0, nil
		}
		return 0, fmt.Errorf("sendmmsg: %w", errno)
	}
}

// receive reads what has arrived, without waiting, and returns how many of
// the frames are replies to us.
func (s *socket) receive(target netip.Addr) (int, error) {
	replies := 0
	for range 16 { // bounded: a flood of other frames cannot keep us here
		for i := range s.rxHdr {
			s.rxHdr[i].Len = 0
		}
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.rxHdr[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EINTR:
			return replies, nil
		default:
			return replies, fmt.Errorf("recvmmsg: %w", errno)
		}
		for i := range int(r) {
			if isReply(target, s.rx[i][:s.rxHdr[i].Len]) {
				replies++
			}
		}
		if int(r) < batch {
			return replies, nil
		}
	}
	return replies, nil
}

// wait blocks until a frame arrives, the socket can send (if writable),
// or d has passed.
func (s *socket) wait(d time.Duration, writable bool) error {
	if d <= 0 {
		return nil
	}
	ev := int16(unix.POLLIN)
	if writable {
		ev |= unix.POLLOUT
	}
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: ev}}
	ts := unix.NsecToTimespec(int64(d))
	_, err := unix.Ppoll(fds, &ts, nil)
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("poll: %w", err)
	}
	return nil
}

// flood runs the flood that cfg describes until it is done, its time is up
// or ctx ends.
func flood(ctx context.Context, cfg *config) (result, error) {
	s, err := openSocket(cfg.iface)
	if err != nil {
		return result{}, err
	}
	defer s.close()

	var r result
	next := 0 // the next sender
	start := time.Now()
	deadline := start.Add(cfg.duration)
	lastSend, lastReply := start, start
	progress := start // the last time a reply came (window mode's loss clock)
	outstanding := func() int { return max(r.sent-r.replies-r.lost, 0) }

	for r.sent < cfg.count && ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		room := cfg.count - r.sent
		var pause time.Duration // how long to wait when there is no room
		switch {
		case cfg.window > 0:
			room = min(room, cfg.window-outstanding())
			pause = cfg.timeout - now.Sub(progress)
		case cfg.rate > 0:
			// Request n (from 0) is due n/rate after the start.
			due := int(now.Sub(start).Seconds()*float64(cfg.rate)) + 1
			room = min(room, due-r.sent)
			pause = start.Add(time.Duration(float64(r.sent) / float64(cfg.rate) * float64(time.Second))).Sub(now)
		}
		if room > 0 {
			n := min(room, batch)
			for i := range n {
				request(cfg, next, s.tx[i][:])
				next = (next + 1) % cfg.senders
			}
			took, err := s.send(n)
			if err != nil {
				return r, err
			}
			next = ((next-(n-took))%cfg.senders + cfg.senders) % cfg.senders // the ones not taken go again
			if took > 0 && cfg.window > 0 && outstanding() == 0 {
				progress = now // the loss clock starts with the first unanswered request
			}
			r.sent += took
			if took > 0 {
				lastSend = now
			} else if err := s.wait(min(time.Millisecond, deadline.Sub(now)), true); err != nil {
				return r, err
			}
		}
		got, err := s.receive(cfg.target)
		if err != nil {
			return r, err
		}
		if got > 0 {
			r.replies += got
			lastReply, progress = time.Now(), time.Now()
			continue
		}
		if cfg.window > 0 && outstanding() > 0 && time.Since(progress) >= cfg.timeout {
			r.lost += outstanding() // silence: they are not coming
			progress = time.Now()
			continue
		}
		if room <= 0 && pause > 0 {
			if err := s.wait(min(pause, time.Until(deadline)), false); err != nil {
				return r, err
			}
		}
	}

	// The replies still on their way: until all are in (window mode) or
	// none has come for -timeout.
	for ctx.Err() == nil {
		if cfg.window > 0 && outstanding() == 0 {
			break
		}
		last := lastSend
		if lastReply.After(last) {
			last = lastReply
		}
		quiet := time.Since(last)
		if quiet >= cfg.timeout {
			break
		}
		if err := s.wait(cfg.timeout-quiet, false); err != nil {
			return r, err
		}
		got, err := s.receive(cfg.target)
		if err != nil {
			return r, err
		}
		if got > 0 {
			r.replies += got
			lastReply = time.Now()
		}
	}
	if cfg.window > 0 {
		r.lost += outstanding()
	} else {
		r.lost = max(r.sent-r.replies, 0)
	}
	r.seconds = time.Since(start).Seconds()
	if d := lastSend.Sub(start).Seconds(); d > 0 {
		r.requestRate = float64(r.sent) / d
	}
	if d := lastReply.Sub(start).Seconds(); d > 0 {
		r.replyRate = float64(r.replies) / d
	}
	return r, nil
}
