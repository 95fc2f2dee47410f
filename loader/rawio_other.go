//go:build !linux || race || tune_netconn

package loader

import "net"

// fastIO returns nc: raw system calls are made on Linux only, and not
// under the race detector or with -tags tune_netconn (see rawConn).
func fastIO(nc net.Conn) net.Conn { return nc }
