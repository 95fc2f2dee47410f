//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

// floor needs Linux's epoll; elsewhere the row says so.
func floor(context.Context, []string, io.Writer) error {
	return errors.New("the floor client needs Linux (epoll)")
}
