// Package procinfo names other processes in operator messages: the holder
// of a lock file, the listener on a port. It reads Linux's /proc; where
// that is missing the answers are only less specific ("another process").
package procinfo

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Describe names a process for an operator: "pid 1234 (mcpgate run)", its
// command line shortened and with control characters dropped (it is the
// other process's own text), or "pid 1234" when it cannot be read.
func Describe(pid int) string {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	words := strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, string(cmdline)))
	line := strings.Join(words, " ")
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return fmt.Sprintf("pid %d (%s)", pid, line)
}

// TCPListener returns the pid of a process listening on the TCP port, on
// any address, when /proc tells; 0 otherwise.
func TCPListener(port int) int {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(table, port, inodes)
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err == nil && strings.HasPrefix(target, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				return pid
			}
		}
	}
	return 0
}

// listeningInodes adds the socket inodes of table's listeners on port.
// A line reads: sl local_address rem_address st ... inode, with the
// address as hex IP:hex port and state 0A for LISTEN.
func listeningInodes(table string, port int, into map[string]bool) {
	f, err := os.Open(table)
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
			into[fields[9]] = true
		}
	}
}
