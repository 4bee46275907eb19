//go:build !linux

package cork

import (
	"errors"
	"net"
)

var errUnsupported = errors.New("TCP_CORK is Linux's")

func setCork(*net.TCPConn, bool) error { return errUnsupported }
