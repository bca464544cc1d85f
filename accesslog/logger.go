package accesslog

import (
	"bufio"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// rotationCheck bounds how often the writer stats its file to notice a
// rotation: at most once a second, when it has written something.
const rotationCheck = time.Second

// entry is one queued line: exactly one of call and conn is set.
type entry struct {
	call *Call
	conn *Conn
}

// Logger is one listener's access log. Call and Conn are safe for
// concurrent use and never block. The writer goroutine owns the output
// (file, buffer); Reopen and Close talk to it over channels.
type Logger struct {
	o       Options
	queue   chan entry
	reopen  chan struct{}
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
	written atomic.Uint64

	out outFile // owned by the writer goroutine
}

// Open starts a Logger on o's destination; o is validated first.
func Open(o Options) (*Logger, error) {
	o = o.WithDefaults()
	if err := o.Validate("access_log"); err != nil {
		return nil, err
	}
	l := &Logger{o: o, queue: make(chan entry, o.Queue), reopen: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	if err := l.out.open(o.Path); err != nil {
		return nil, err
	}
	go l.write()
	return l, nil
}

// Sampled says whether to log a call or connection; failed marks one
// that did not end well (ErrorsAlways logs those all). Callers ask
// before they build the line's record, which sampled-out calls skip.
func (l *Logger) Sampled(failed bool) bool {
	return l.o.Sample >= 1 || failed && l.o.ErrorsAlways || rand.Float64() < l.o.Sample
}

// Call queues a line for a finished gRPC call that Sampled let through.
// c is the writer's from now on.
func (l *Logger) Call(c *Call) { l.enqueue(entry{call: c}) }

// Conn queues a line for a finished L4 connection that Sampled let
// through. c is the writer's from now on.
func (l *Logger) Conn(c *Conn) { l.enqueue(entry{conn: c}) }

func (l *Logger) enqueue(e entry) {
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many lines a full queue has refused.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Written is how many lines were written.
func (l *Logger) Written() uint64 { return l.written.Load() }

// Reopen makes the writer close and reopen its file (after a rotation
// by rename, on SIGHUP). It does not wait.
func (l *Logger) Reopen() {
	select {
	case l.reopen <- struct{}{}:
	default: // one is pending already
	}
}

// Close writes what is queued, closes the file and stops the writer.
// Lines logged after Close are dropped.
func (l *Logger) Close() {
	l.once.Do(func() { close(l.quit) })
	<-l.done
}

// write is the writer goroutine: it formats queued entries into the
// buffer and flushes whenever the queue runs empty.
func (l *Logger) write() {
	defer close(l.done)
	defer l.out.close()
	var line []byte
	for {
		select {
		case e := <-l.queue:
			line = l.format(line[:0], e)
			l.out.write(line)
			l.written.Add(1)
			if len(l.queue) == 0 {
				l.out.flush()
			}
		case <-l.reopen:
			l.out.flush()
			l.out.reopen()
		case <-l.quit:
			for {
				select {
				case e := <-l.queue:
					l.out.write(l.format(line[:0], e))
					l.written.Add(1)
				default:
					l.out.flush()
					return
				}
			}
		}
	}
}

func (l *Logger) format(b []byte, e entry) []byte {
	var fs []field
	if e.call != nil {
		fs = e.call.fields()
	} else {
		fs = e.conn.fields()
	}
	if l.o.Format == FormatJSON {
		return appendJSON(b, fs)
	}
	return appendText(b, fs)
}

// outFile is the destination: stdout, stderr or a file that follows
// rotation. A write error is logged once and otherwise
// ignored: the calls go on without their log.
type outFile struct {
	path    string
	f       *os.File // nil for stdout and stderr
	w       *bufio.Writer
	checked time.Time
	failed  bool
}

func (o *outFile) open(path string) error {
	o.path = path
	switch path {
	case Stdout:
		o.w = bufio.NewWriterSize(os.Stdout, 64<<10)
	case Stderr:
		o.w = bufio.NewWriterSize(os.Stderr, 64<<10)
	default:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		o.f, o.w = f, bufio.NewWriterSize(f, 64<<10)
		o.checked = time.Now()
	}
	return nil
}

func (o *outFile) write(line []byte) {
	if _, err := o.w.Write(line); err != nil {
		o.report(err)
	}
}

// flush writes the buffer out, then notices a rotation: a file moved
// away or removed is replaced by a new one at the path.
func (o *outFile) flush() {
	if err := o.w.Flush(); err != nil {
		o.report(err)
	}
	if o.f == nil || time.Since(o.checked) < rotationCheck {
		return
	}
	o.checked = time.Now()
	if !o.samePath() {
		o.reopen()
	}
}

// samePath says whether the path still names the open file.
func (o *outFile) samePath() bool {
	held, err := o.f.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(o.path)
	return err == nil && os.SameFile(held, named)
}

func (o *outFile) reopen() {
	if o.f == nil {
		return
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		o.report(err)
		return
	}
	o.f.Close()
	o.f = f
	o.w.Reset(f)
	o.checked = time.Now()
	o.failed = false
}

func (o *outFile) report(err error) {
	if o.failed {
		return
	}
	o.failed = true
	slog.Error("access log write failed; further errors are not reported until it is reopened", "path", o.path, "err", err.Error())
}

func (o *outFile) close() {
	if o.f != nil {
		o.f.Close()
	}
}
