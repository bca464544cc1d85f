package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// startBackend serves a one-byte command per connection:
// 'u' reads until EOF and answers 'k'; 'd' plus an 8-byte length sends
// that many bytes and closes; 'p' answers 'k' and closes.
func startBackend(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("backend listen: %w", err)
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go serve(c.(*net.TCPConn))
		}
	}()
	return lis, nil
}

var payload = make([]byte, 256<<10)

func serve(c *net.TCPConn) {
	defer c.Close()
	cmd := make([]byte, 9)
	if _, err := io.ReadFull(c, cmd[:1]); err != nil {
		return
	}
	switch cmd[0] {
	case 'u':
		io.Copy(io.Discard, c)
		c.Write([]byte{'k'})
	case 'd':
		if _, err := io.ReadFull(c, cmd[1:]); err != nil {
			return
		}
		for left := int64(binary.BigEndian.Uint64(cmd[1:])); left > 0; {
			n, err := c.Write(payload[:min(left, int64(len(payload)))])
			if err != nil {
				return
			}
			left -= int64(n)
		}
	case 'p':
		c.Write([]byte{'k'})
	}
}

// throughput moves cfg.streams × cfg.streamBytes through addr in one
// direction and returns MB/s.
func throughput(addr string, dir byte, cfg config) (float64, error) {
	start := time.Now()
	errs := make(chan error, cfg.streams)
	for range cfg.streams {
		go func() { errs <- stream(addr, dir, cfg.streamBytes) }()
	}
	var err error
	for range cfg.streams {
		err = errors.Join(err, <-errs)
	}
	total := float64(cfg.streams) * float64(cfg.streamBytes)
	return total / 1e6 / time.Since(start).Seconds(), err
}

func stream(addr string, dir byte, size int64) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	if dir == 'd' {
		cmd := make([]byte, 9)
		cmd[0] = 'd'
		binary.BigEndian.PutUint64(cmd[1:], uint64(size))
		c.Write(cmd)
		n, err := io.Copy(io.Discard, c)
		if err == nil && n != size {
			err = fmt.Errorf("downloaded %d of %d bytes", n, size)
		}
		return err
	}
	c.Write([]byte{'u'})
	for left := size; left > 0; {
		n, err := c.Write(payload[:min(left, int64(len(payload)))])
		if err != nil {
			return err
		}
		left -= int64(n)
	}
	c.CloseWrite()
	ack := make([]byte, 1)
	_, err = io.ReadFull(c, ack)
	return err
}

// connRate opens, uses and closes connections from cfg.rateWorkers
// clients for cfg.rateFor and returns connections per second.
func connRate(addr string, cfg config) (float64, error) {
	var count atomic.Int64
	var firstErr atomic.Pointer[error]
	deadline := time.Now().Add(cfg.rateFor)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.rateWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := oneConn(addr); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return 0, *p
	}
	return float64(count.Load()) / time.Since(start).Seconds(), nil
}

// oneConn asks for one 'k' and reads until the server's close, so that
// the server side closes first and keeps the TIME_WAIT state.
func oneConn(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'p'}); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 1 {
		return fmt.Errorf("ping answered %q: %v", b, err)
	}
	return nil
}
