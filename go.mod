module github.com/smolfs/smolfs

go 1.26.0

require (
	9fans.net/go v0.0.2 // indirect
	github.com/fhs/mux9p v0.3.1 // indirect
	github.com/hugelgupf/p9 v0.3.0 // indirect
	github.com/knusbaum/go9p v1.18.0 // indirect
	github.com/u-root/uio v0.0.0-20230305220412-3e8cd9d6bf63 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
