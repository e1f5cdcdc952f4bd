module github.com/smolfs/smolfs

go 1.26.0

require (
	github.com/hugelgupf/p9 v0.3.0
	github.com/knusbaum/go9p v1.18.0
	golang.org/x/sys v0.49.0
)

require github.com/u-root/uio v0.0.0-20230305220412-3e8cd9d6bf63 // indirect
