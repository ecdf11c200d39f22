package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// importResult is how `memoryserver import` did on the workload's graph.
type importResult struct {
	took    time.Duration
	peakRSS int64
}

// timeImport writes the workload's graph as a reference JSONL file in dir
// and times `memoryserver import` of it into a new database, as one child
// process whose peak RSS it reports too.
func timeImport(bin, dir string, w *workload) (importResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return importResult{}, err
	}
	file := filepath.Join(dir, "graph.jsonl")
	if err := w.writeJSONL(file); err != nil {
		return importResult{}, err
	}
	// The server just stopped and the file was just written: their pages go
	// to disk now, so that writing them back is not billed to the import.
	syscall.Sync()
	cmd := exec.Command(bin, "--db", filepath.Join(dir, "memory.db"), "import", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return importResult{}, err
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	took := time.Since(began)
	if err != nil {
		return importResult{}, fmt.Errorf("memoryserver import: %v: %s", err, out.Bytes())
	}
	return importResult{took, peak()}, nil
}

// watchPeakRSS reads the peak RSS (VmHWM) of process pid every 10 ms until
// the function it returns is called, which returns the last reading. The
// child's maxrss would not do: Go starts children with vfork, and Linux
// carries the parent's high-water mark, this program's, over the exec. A
// peak reached in the last 10 ms of the process is missed.
func watchPeakRSS(pid int) func() int64 {
	stop, last := make(chan struct{}), make(chan int64)
	go func() {
		var peak int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				last <- peak
				return
			case <-tick.C:
				if v, err := peakRSS(pid); err == nil {
					peak = max(peak, v)
				}
			}
		}
	}()
	return func() int64 {
		close(stop)
		return <-last
	}
}

// writeJSONL writes the graph in the reference server's file format.
func (w *workload) writeJSONL(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, e := range w.entities {
		if err := enc.Encode(map[string]any{"type": "entity", "name": e.Name, "entityType": e.EntityType, "observations": e.Observations}); err != nil {
			f.Close()
			return err
		}
	}
	for _, r := range w.relations {
		if err := enc.Encode(map[string]any{"type": "relation", "from": r.From, "to": r.To, "relationType": r.RelationType}); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
