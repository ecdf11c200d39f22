package stdiobackend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"go.uber.org/zap"
)

const (
	// writeTimeout bounds a write to a child's stdin: a child that stops
	// reading must not hold a request (and its goroutine) forever.
	writeTimeout = 30 * time.Second
	// stopGrace is how long a stopped child may take to exit after its
	// stdin closes and its group gets SIGTERM, before SIGKILL.
	stopGrace = 3 * time.Second
)

// startProcess runs the command for one user or client (escapedSubject is
// its {http.auth.user.id}; "" when shared) and initializes it.
func startProcess(ctx context.Context, cfg *Config, key procKey, escapedSubject string, log *zap.Logger) (*process, error) {
	args := make([]string, len(cfg.Args))
	for i, a := range cfg.Args {
		args[i] = expand(a, escapedSubject)
	}
	cmd := exec.Command(cfg.Command, args...)
	cmd.Env = cfg.childEnv(escapedSubject)
	if cfg.Dir != "" {
		cmd.Dir = expand(cfg.Dir, escapedSubject)
		if err := os.MkdirAll(cmd.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the stdio server's directory: %v", err)
		}
	}
	ownGroup(cmd)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	for _, f := range []*os.File{inR, outW, errW} {
		f.Close() // the child holds its own copies
	}
	if err != nil {
		for _, f := range []*os.File{inW, outR, errR} {
			f.Close()
		}
		return nil, fmt.Errorf("starting the stdio server %s: %v", cfg.Command, err)
	}
	p := newProcess(cfg, key, log.With(zap.Int("pid", cmd.Process.Pid)))
	l := &stdioLink{cmd: cmd, pid: cmd.Process.Pid, stdin: inW, p: p}
	p.link = l
	go newStderrLog(p.log, cfg.Now, cfg.StderrLinesPerSecond).copy(errR)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		l.read(outR)
	}()
	go l.wait(outR, errR, readDone)
	p.log.Info("stdio server started")
	if err := p.initialize(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stdioLink is a child process's stdin and stdout.
type stdioLink struct {
	cmd *exec.Cmd
	pid int
	p   *process

	writeMu sync.Mutex
	stdin   *os.File
}

// read dispatches the child's stdout, one JSON-RPC message per line.
func (l *stdioLink) read(r *os.File) {
	p := l.p
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, p.cfg.MaxMessageBytes)
		if errors.Is(err, errLineTooLong) {
			// A child that writes without end must not grow the gateway's
			// memory: it is killed, its requests fail.
			p.log.Error("stdio server wrote a line longer than the limit; stopping it", zap.Int("max_bytes", p.cfg.MaxMessageBytes))
			signalGroup(l.pid, sigKill)
			return
		}
		if len(bytes.TrimSpace(line)) > 0 {
			p.dispatch(line)
		}
		if err != nil {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads up to and without '\n', at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// send writes one line to the child's stdin.
func (l *stdioLink) send(line []byte) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	_ = l.stdin.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := l.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%w: writing to its stdin: %v", errExited, err)
	}
	return nil
}

// wait reaps the child, kills what is left of its group, and fails the
// requests still in flight once everything it wrote was read.
func (l *stdioLink) wait(outR, errR *os.File, readDone chan struct{}) {
	err := l.cmd.Wait()
	// The leader is gone; its own children (npx's node) must not linger.
	signalGroup(l.pid, sigKill)
	select {
	case <-readDone:
	case <-time.After(time.Second): // something outside the group holds stdout
	}
	outR.Close()
	errR.Close()
	l.writeMu.Lock()
	l.stdin.Close()
	l.writeMu.Unlock()
	l.p.closed(err)
}

// stop ends the child: stdin closed (a polite MCP server exits), SIGTERM
// to its group, SIGKILL after stopGrace. It returns once it is reaped.
func (l *stdioLink) stop(done <-chan struct{}) {
	l.writeMu.Lock()
	l.stdin.Close()
	l.writeMu.Unlock()
	signalGroup(l.pid, sigTerm)
	select {
	case <-done:
		return
	case <-time.After(stopGrace):
	}
	signalGroup(l.pid, sigKill)
	<-done
}
