// Package accesslog writes one line per relayed call (gRPC) or per
// connection (L4), as text or JSON, to stdout, stderr or a file.
//
// The proxy hands each finished call to a Logger, which decides on
// sampling and queues a copy without blocking; one writer goroutine per
// Logger formats and writes the lines. A full queue drops lines (counted)
// rather than slow the calls down. A file is reopened on Reopen (SIGHUP)
// and when it was moved away or removed (rotation).
package accesslog

import (
	"fmt"
)

// Formats of a line.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Destinations that are not files.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// DefaultQueue is how many lines may wait for the writer.
const DefaultQueue = 4096

// maxQueue bounds the queue a configuration can ask for: a line waiting
// holds a few hundred bytes.
const maxQueue = 1 << 20

// Options configure one listener's access log.
type Options struct {
	// Format is "text" (default): key=value pairs, or "json": one object.
	Format string `yaml:"format"`
	// Path is "stdout", "stderr" or a file, appended to and created with
	// mode 0644 when missing. Required.
	Path string `yaml:"path"`
	// Sample is the fraction of calls logged, in (0, 1]; default 1.
	Sample float64 `yaml:"sample"`
	// ErrorsAlways logs every call that did not end OK (and every L4
	// connection that did not end cleanly) whatever Sample says.
	ErrorsAlways bool `yaml:"errors_always"`
	// Queue is how many lines may wait for the writer; beyond it lines
	// are dropped and counted. Default 4096.
	Queue int `yaml:"queue"`
}

// WithDefaults fills in zero fields.
func (o Options) WithDefaults() Options {
	if o.Format == "" {
		o.Format = FormatText
	}
	if o.Sample == 0 {
		o.Sample = 1
	}
	if o.Queue == 0 {
		o.Queue = DefaultQueue
	}
	return o
}

// Validate reports the first bad field, named under prefix (such as
// "listeners[0].access_log"). It expects defaults applied.
func (o Options) Validate(prefix string) error {
	switch {
	case o.Format != FormatText && o.Format != FormatJSON:
		return fmt.Errorf("%s.format: %q is not %q or %q", prefix, o.Format, FormatText, FormatJSON)
	case o.Path == "":
		return fmt.Errorf("%s.path: is required (stdout, stderr or a file)", prefix)
	case !(o.Sample > 0 && o.Sample <= 1):
		return fmt.Errorf("%s.sample: %v is not a fraction in (0, 1]", prefix, o.Sample)
	case o.Queue < 1 || o.Queue > maxQueue:
		return fmt.Errorf("%s.queue: %d is not between 1 and %d", prefix, o.Queue, maxQueue)
	}
	return nil
}
