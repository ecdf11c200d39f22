package main

import (
	"bufio"
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
	began := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(began)
	if err != nil {
		return importResult{}, fmt.Errorf("memoryserver import: %v: %s", err, out)
	}
	// Maxrss is in KiB on Linux.
	return importResult{took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10}, nil
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
