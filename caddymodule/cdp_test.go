package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// chromiumNames are the names Chromium goes by on PATH (Debian, Ubuntu,
// Google builds). Without any of them the browser tests skip,
// unless MCPGATE_CI=1, where they fail: CI must never pass by skipping.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// findChromium returns the first Chromium on PATH, or "".
func findChromium() string {
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// cdpReply is the answer to one DevTools protocol command.
type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// chromium is a headless Chromium driven over the Chrome DevTools protocol
// through --remote-debugging-pipe: commands go to its fd 3 and replies come
// from its fd 4, each a JSON object ended by a NUL byte. This needs no
// WebSocket client and no Go module beyond the standard library.
type chromium struct {
	commands *os.File
	mu       sync.Mutex
	nextID   int
	pending  map[int]chan cdpReply
}

// startChromium starts a fresh headless Chromium until the test ends.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	chromiumPath := findChromium()
	if chromiumPath == "" {
		msg := "chromium not installed (apt-get install chromium, or run bash .ci/run)"
		if os.Getenv("MCPGATE_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--window-size=900,1000", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	outW.Close()
	c := &chromium{commands: cmdW, pending: map[int]chan cdpReply{}}
	t.Cleanup(func() {
		cmdW.Close()
		cmd.Process.Kill()
		cmd.Wait()
		outR.Close()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	go c.readReplies(outR)
	return c
}

// readReplies hands each reply to the command waiting for it; events are
// not used.
func (c *chromium) readReplies(out *os.File) {
	r := bufio.NewReader(out)
	for {
		msg, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var reply struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &reply) != nil || reply.ID == 0 {
			continue
		}
		c.mu.Lock()
		ch := c.pending[reply.ID]
		delete(c.pending, reply.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- reply.cdpReply
		}
	}
}

// call sends a command, to the browser or to the page of a session, and
// returns its result.
func (c *chromium) call(session, method string, params any) (json.RawMessage, error) {
	ch := make(chan cdpReply, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"id": id, "sessionId": session, "method": method, "params": params})
	if _, err := c.commands.Write(append(msg, 0)); err != nil {
		return nil, err
	}
	select {
	case reply := <-ch:
		if reply.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, reply.Error.Message)
		}
		return reply.Result, nil
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("%s: no reply from chromium", method)
	}
}

// page is one browser tab.
type page struct {
	browser *chromium
	session string
}

// newPage opens a tab and attaches to it.
func (c *chromium) newPage(t *testing.T) *page {
	t.Helper()
	res, err := c.call("", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	var target struct{ TargetID string }
	json.Unmarshal(res, &target)
	res, err = c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		t.Fatal(err)
	}
	var attached struct{ SessionID string }
	json.Unmarshal(res, &attached)
	return &page{browser: c, session: attached.SessionID}
}

// do runs a command on the page.
func (p *page) do(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	res, err := p.browser.call(p.session, method, params)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// eval evaluates a JavaScript expression in the page and returns its value.
func (p *page) eval(expression string) (json.RawMessage, error) {
	res, err := p.browser.call(p.session, "Runtime.evaluate", map[string]any{"expression": expression, "returnByValue": true})
	if err != nil {
		return nil, err
	}
	var out struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails *struct{ Text string }
	}
	json.Unmarshal(res, &out)
	if out.ExceptionDetails != nil {
		return nil, fmt.Errorf("%s: %s", expression, out.ExceptionDetails.Text)
	}
	return out.Result.Value, nil
}

// waitFor polls a JavaScript expression until it gives a non-empty string,
// and returns it. Evaluation errors while a page is loading count as not
// yet.
func (p *page) waitFor(t *testing.T, expression string) string {
	t.Helper()
	var s, last string
	if eventually(20*time.Second, func() bool {
		v, err := p.eval(expression)
		last = fmt.Sprint(err)
		return err == nil && json.Unmarshal(v, &s) == nil && s != ""
	}) {
		return s
	}
	url, _ := p.eval("location.href")
	t.Fatalf("waiting for %s at %s: %s", expression, url, last)
	return ""
}

// jsString quotes s as a JavaScript string literal (encoding/json escapes
// what JavaScript would not accept in one).
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
