package devices

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/netcore"
)

// A tap with the virtio-net header (IFF_VNET_HDR) and offloads on
// (TUNSETOFFLOAD): the kernel then treats the tap as a NIC that
// checksums and segments TCP itself, and hands over what it sends
// unsegmented (up to 64 KiB of TCP in one frame) with the checksum left
// to fill in, behind a 10-byte header that says so. A bulk TCP sender on
// the kernel's side then costs one read per 64 KiB rather than one per
// 1448 bytes, and no checksum pass. What the host sends goes out behind a
// header of zeros: no offload asked.

// vnetHdrLen is struct virtio_net_hdr (without num_buffers).
const vnetHdrLen = 10

// The header's flags and GSO types (include/uapi/linux/virtio_net.h).
const (
	vnetFlagNeedsCsum = 1
	vnetFlagDataValid = 2
	vnetGSONone       = 0
)

// vnetDevice is a Device whose frames carry a virtio-net header.
type vnetDevice interface{ vnetHdr() bool }

func (t *Tap) vnetHdr() bool { return t.vnet }

// OpenTapOffload is OpenTap with the virtio-net header and the offloads
// the host takes (TCP checksum and segmentation, IPv4 and IPv6) on. The
// host must not forward what it receives: its frames are the kernel's
// own, unsegmented.
func OpenTapOffload(name string) (*Tap, error) {
	t, err := openTap(name, unix.IFF_TAP|unix.IFF_NO_PI|unix.IFF_VNET_HDR)
	if err != nil {
		return nil, err
	}
	offloads := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	if err := unix.IoctlSetInt(t.fd, unix.TUNSETOFFLOAD, offloads); err != nil {
		t.Close()
		return nil, fmt.Errorf("open %s: TUNSETOFFLOAD: %w", name, err)
	}
	t.vnet = true
	return t, nil
}

// vnetRx reads a received frame's header: the frame, and what the host
// is to know of it.
func vnetRx(b []byte) ([]byte, netcore.RxOffload, bool) {
	if len(b) < vnetHdrLen {
		return nil, netcore.RxOffload{}, false
	}
	o := netcore.RxOffload{
		ChecksumValid: b[0]&(vnetFlagNeedsCsum|vnetFlagDataValid) != 0,
		Segmented:     b[1] != vnetGSONone,
	}
	return b[vnetHdrLen:], o, true
}

// vnetZero is the header of every frame the host sends.
var vnetZero [vnetHdrLen]byte
