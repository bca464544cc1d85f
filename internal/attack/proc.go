package attack

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Mem is a process's resident memory in bytes, from /proc/PID/status.
type Mem struct {
	// Peak is VmHWM, the most resident at any time since the start.
	Peak int64
	// Now is VmRSS.
	Now int64
}

// ReadMem reads pid's resident memory.
func ReadMem(pid int) (Mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, err
	}
	defer f.Close()
	var m Mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &m.Peak
		case "VmRSS":
			dst = &m.Now
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = kb << 10
	}
	if m.Peak == 0 {
		return Mem{}, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
	}
	return m, sc.Err()
}

// Proc is a server process the harness started.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// StartProc starts path with args, its output appended to logFile.
func StartProc(logFile, path string, args ...string) (*Proc, error) {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// WaitListening waits until addr accepts connections, failing early if
// the process ends.
func (p *Proc) WaitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if done, err := p.Exited(); done {
			return fmt.Errorf("exited while starting: %v", err)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s", addr, timeout)
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits up to grace for the process to end, then
// kills it. It returns the exit error of a process that had already
// ended on its own, so a crash is not mistaken for a clean stop.
func (p *Proc) Stop(grace time.Duration) error {
	if done, err := p.Exited(); done {
		if err == nil {
			err = errors.New("exited on its own")
		}
		return err
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("still running %s after SIGTERM; killed", grace)
	}
}

// RaiseNoFile raises the soft limit on open files to at least n (up to
// the hard limit), for attacks that hold thousands of connections; a Go
// program has its soft limit at the hard one already, other callers may
// not.
func RaiseNoFile(n uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur >= n {
		return nil
	}
	if rl.Max < n {
		return fmt.Errorf("open files: hard limit %d is under the %d needed", rl.Max, n)
	}
	rl.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}
