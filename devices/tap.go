package devices

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Device is a source and sink of whole Ethernet frames on a file descriptor.
type Device interface {
	Name() string
	Fd() int      // non-blocking; one frame per read(2)/write(2)
	Close() error // idempotent
}

// fdDevice is what every Device here has in common: a name and an fd that
// is closed once.
type fdDevice struct {
	name string
	fd   int
	once sync.Once
	err  error
}

// Name is the interface (or pair side) name.
func (d *fdDevice) Name() string { return d.name }

// Fd is the non-blocking descriptor; it is valid until Close.
func (d *fdDevice) Fd() int { return d.fd }

// Close closes the descriptor; later calls return the first call's result.
func (d *fdDevice) Close() error {
	d.once.Do(func() {
		if err := unix.Close(d.fd); err != nil {
			d.err = fmt.Errorf("close %s: %w", d.name, err)
		}
	})
	return d.err
}

// Tap is the file-descriptor side of a Linux tap interface: what the kernel
// sends on the interface is read here, and what is written here the kernel
// receives on it.
type Tap struct {
	fdDevice
	vnet bool // frames carry a virtio-net header (OpenTapOffload)
}

// OpenTap attaches to the tap interface called name in the calling thread's
// network namespace, or creates it (a tap created here disappears when it is
// closed; one made with `ip tuntap add` persists). It uses IFF_TAP|IFF_NO_PI
// without IFF_MULTI_QUEUE, so a tap has one reader at a time: a second open
// fails with an error that errors.Is(err, syscall.EBUSY) recognises.
//
// The kernel side of the interface is left as it is: whoever configures it
// (ip(8), netbench) brings it up and addresses it. A tap whose kernel side is
// down carries nothing. The descriptor keeps working if the kernel side is
// later moved to another namespace, because nothing here refers to the
// interface by name after the open.
func OpenTap(name string) (*Tap, error) {
	return openTap(name, unix.IFF_TAP|unix.IFF_NO_PI)
}

func openTap(name string, flags uint16) (*Tap, error) {
	if err := checkIfName(name); err != nil {
		return nil, fmt.Errorf("open %q: %w", name, err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, tapOpenError(name, "/dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil { // checkIfName has ruled this out
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, tapOpenError(name, "", err)
	}
	return &Tap{fdDevice: fdDevice{name: ifr.Name(), fd: fd}}, nil
}

// errBadIfName explains the kernel's rules for interface names.
var errBadIfName = errors.New("an interface name is 1 to 15 bytes, not . or .., without '/', ':', '%' or white space")

// checkIfName applies the kernel's rules for interface names (and rejects
// '%', which would make TUNSETIFF pick a name of its own), so that a bad name
// gets a clear error rather than a bare EINVAL from the ioctl.
func checkIfName(name string) error {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." ||
		strings.ContainsAny(name, "/:% \t\n\v\f\r") {
		return fmt.Errorf("%w: %w", syscall.EINVAL, errBadIfName)
	}
	return nil
}

// tapOpenError says why the tap name could not be opened and what to do
// about it. what is the file that failed to open, or "" for TUNSETIFF. The
// errno stays in the chain, so that errors.Is(err, syscall.EBUSY) works and
// a file server can return it.
func tapOpenError(name, what string, err error) error {
	var hint string
	switch {
	case what != "" && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO)):
		hint = "this kernel has no tun/tap driver: modprobe tun"
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		hint = "run as root, or create the tap for your user first: sudo ip tuntap add dev " + name + " mode tap user $USER"
	case errors.Is(err, syscall.EBUSY):
		hint = "another process has it open (a tap has one reader); find it with: grep -l 'iff:." + name + "$' /proc/*/fdinfo/*"
	case errors.Is(err, syscall.EINVAL):
		hint = "an interface of that name exists and is not a single-queue tap (see ip -d link show " + name + "): pick another name"
	}
	var msg string
	if what != "" {
		msg = "open " + name + ": " + what
	} else {
		msg = "open " + name
	}
	if hint == "" {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("%s: %w: %s", msg, err, hint)
}
