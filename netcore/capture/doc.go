// Package capture is how frames leave a host for its readers: Capture hands
// every frame a host receives or sends to any number of subscribers (the
// frames and frames.pcap files, smolfs dump) without ever blocking the
// host, and pcap.go encodes them as a libpcap stream. It knows nothing of
// what a frame holds; the tcpdump package renders lines from the same
// subscriptions.
package capture
