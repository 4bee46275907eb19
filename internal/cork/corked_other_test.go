//go:build !linux

package cork

import "net"

func corked(*net.TCPConn) (bool, error) { return false, errUnsupported }
