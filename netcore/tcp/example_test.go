package tcp_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/tcp"
)

// The host's side of the boundary: two Tables back to back stand in for two
// hosts; a real host wraps each Segment in IP and hands received ones to
// Receive. Everything runs under one lock with a clock the caller owns.
func Example() {
	now := time.Unix(1700000000, 0)
	server := tcp.NewTable(tcp.Config{})
	client := tcp.NewTable(tcp.Config{})
	srvAddr := netip.MustParseAddrPort("192.168.69.1:7")

	l, _ := server.Listen(srvAddr, 0, tcp.ConnOptions{MSS: tcp.MSSForMTU(1500, false)})
	var out tcp.Output
	c, _ := client.Connect(now, netip.MustParseAddrPort("192.168.69.100:0"), srvAddr, tcp.ConnOptions{}, &out)

	// deliver plays the link: every segment from one Table into the other,
	// and whatever that produces back, until both are quiet.
	deliver := func(from *tcp.Output, fromTable *tcp.Table) {
		for len(from.Segments) > 0 {
			var reply tcp.Output
			to := server
			if fromTable == server {
				to = client
			}
			for _, s := range from.Segments {
				// A host copies Header and Payload into its frame here, before
				// the next call into a Table.
				seg := append(append([]byte(nil), s.Header...), s.Payload...)
				to.Receive(now, s.Src, s.Dst, seg, &reply)
			}
			for _, e := range reply.Events {
				if e.Listener != nil && e.Ready&tcp.Acceptable != 0 {
					fmt.Println("listener: a call to accept")
				}
			}
			*from = reply
			fromTable = to
		}
	}
	deliver(&out, client)
	fmt.Println("client:", c.State())

	s, _ := l.Accept()
	out.Reset()
	c.Write(now, []byte("hello"), &out)
	deliver(&out, client)

	buf := make([]byte, 16)
	n, _ := s.Read(now, buf, &out)
	fmt.Printf("server read %q\n", buf[:n])
	if _, err := s.Read(now, buf, &out); errors.Is(err, tcp.ErrWouldBlock) {
		fmt.Println("server: nothing more yet (Readable will be reported)")
	}
	// Output:
	// listener: a call to accept
	// client: Established
	// server read "hello"
	// server: nothing more yet (Readable will be reported)
}
