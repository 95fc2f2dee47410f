//go:build !linux || race

package loader

import "net"

// fastIO returns nc: raw system calls are made on Linux only, and not
// under the race detector (see rawConn).
func fastIO(nc net.Conn) net.Conn { return nc }
