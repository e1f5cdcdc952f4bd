package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"-to", "10.0.0.1:9"}, ""},
		{[]string{"-to", "10.0.0.1:7", "-echo", "-count", "5"}, ""},
		{[]string{"-to", "10.0.0.1"}, "want IP:PORT"},
		{[]string{"-to", "10.0.0.1:0"}, "want IP:PORT"},
		{[]string{"-to", "10.0.0.1:9", "-size", "7"}, "-size 7"},
		{[]string{"-to", "10.0.0.1:9", "-count", "0"}, "-count 0"},
		{[]string{"-to", "10.0.0.1:9", "-rate", "-1"}, "-rate -1"},
		{[]string{"-to", "10.0.0.1:9", "-echo", "-rate", "5"}, "-rate is for open loop"},
		{[]string{"-to", "10.0.0.1:9", "extra"}, "unexpected argument"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tc.args, &stderr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

// TestFloodAndEcho runs both modes against a loopback echo server in a
// namespace of the test's own: the flood's datagrams all arrive, numbered
// in order, and every echo is counted with its round trip; with nobody
// answering, every datagram is lost after the timeout.
func TestFloodAndEcho(t *testing.T) {
	ns := testenv.NewNetns(t)
	err := ns.Do(func() error {
		srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer srv.Close()
		srv.SetReadBuffer(4 << 20)
		to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			return err
		}
		defer conn.Close()

		t0 := time.Now()
		fr, err := flood(context.Background(), conn, &config{size: 100, count: 1000, rate: 100000, duration: time.Minute, lead: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if fr.sent != 1000 || fr.paced != 999 || fr.seconds < 0.009 || time.Since(t0) < 59*time.Millisecond {
			t.Errorf("flood at 100,000/s after a lead of 50 ms: %v: want 1000 sent, 999 of them in at least 10 ms after the lead", fr)
		}
		buf := make([]byte, 2000)
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := range 1000 {
			n, _, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("datagram %d: %v", i, err)
			}
			if n != 100 || binary.BigEndian.Uint64(buf) != uint64(i) {
				t.Fatalf("datagram %d: %d bytes, number %d", i, n, binary.BigEndian.Uint64(buf))
			}
		}

		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.SetReadDeadline(time.Time{})
			for {
				n, from, err := srv.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				srv.WriteToUDPAddrPort(buf[:n], from)
			}
		}()
		er, err := echo(context.Background(), conn, &config{size: 64, count: 200, duration: time.Minute, timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if er.sent != 200 || er.replies != 200 || len(er.rtts) != 200 || er.percentile(50) <= 0 {
			t.Errorf("echo: %v", er)
		}
		srv.Close()
		<-done
		er, err = echo(context.Background(), conn, &config{size: 64, count: 3, duration: time.Minute, timeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if er.sent != 3 || er.replies != 0 || !strings.Contains(er.String(), "lost=3") {
			t.Errorf("echo with nobody answering: %v", er)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
