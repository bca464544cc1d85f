package accesslog

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFullQueueDropsAndCounts logs to a pipe nobody reads yet: the
// writer blocks once the pipe and its buffer are full, the queue fills
// behind it, and from then on lines are dropped and counted while the
// calls logging them go on. Whatever the timing, the writer can take no
// more lines than the pipe and the buffer hold, so the drops have a
// floor; once the pipe is read, every line not dropped arrives.
func TestFullQueueDropsAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader must hold the pipe open, or opening it to write blocks.
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	const queue, logged = 8, 10_000
	l, err := Open(Options{Path: path, Queue: queue})
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	// On failure: closing the reader fails the writer's blocked write,
	// so Close can drain the queue and return.
	defer func() { r.Close(); l.Close() }()

	held := pipeSize(t, r) + 64<<10 // the pipe and the writer's buffer
	line := len((&Logger{o: Options{}.WithDefaults()}).format(nil, entry{call: edgeCall()}))
	// Lines written before the writer blocks, one in its hands, a full queue.
	maxTaken := held/line + 1 + 1 + queue
	for range logged {
		logOne(l, "edge")
	}
	if floor := uint64(logged - maxTaken); l.Dropped() < floor {
		t.Fatalf("%d of %d lines dropped; the pipe, buffer and queue hold %d lines at most", l.Dropped(), logged, maxTaken)
	}

	read := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(r) // until Close closes the pipe's write end
		read <- data
	}()
	l.Close()
	lines := bytes.Count(<-read, []byte("\n"))
	if uint64(lines) != l.Written() || l.Written()+l.Dropped() != logged {
		t.Fatalf("%d lines logged, %d written, %d dropped, %d read; want written + dropped = logged, every written one read",
			logged, l.Written(), l.Dropped(), lines)
	}
	t.Logf("%d lines logged of %d bytes: %d written, %d dropped", logged, line, l.Written(), l.Dropped())
}

// edgeCall is the call logOne logs.
func edgeCall() *Call {
	c := sampleCall
	c.Listener = "edge"
	return &c
}

// pipeSize asks Linux how many bytes the pipe holds (F_GETPIPE_SZ, which
// package syscall does not name).
func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	const fGetPipeSz = 1032
	conn, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uintptr
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		n, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0)
	}); err != nil || errno != 0 {
		t.Fatalf("F_GETPIPE_SZ: %v %v", err, errno)
	}
	return int(n)
}
