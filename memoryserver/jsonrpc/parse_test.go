package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSingle(t *testing.T) {
	for _, tc := range []struct {
		in           string
		request      bool
		notification bool
		response     bool
		errCode      int
		id           string
	}{
		{in: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, request: true, id: "1"},
		{in: ` {"jsonrpc":"2.0","id":"x","method":"a","params":{"k":[1]}} `, request: true, id: `"x"`},
		{in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, request: true, notification: true},
		{in: `{"jsonrpc":"2.0","id":7,"result":{}}`, response: true, id: "7"},
		{in: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}`, response: true, id: "null"},
		{in: `{"jsonrpc":"2.0","id":7}`, errCode: InvalidRequest, id: "7"},
		{in: `{"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1,"message":""}}`, errCode: InvalidRequest, id: "7"},
		{in: `{"jsonrpc":"2.0","id":7,"error":"bad"}`, errCode: InvalidRequest, id: "7"},
		{in: `{"id":1,"method":"ping"}`, errCode: InvalidRequest, id: "1"},
		{in: `{"jsonrpc":"2.0","id":{},"method":"ping"}`, errCode: InvalidRequest},
		{in: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, errCode: InvalidRequest},
		{in: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, errCode: InvalidRequest},
		{in: `{"jsonrpc":"2.0","id":1,"method":null}`, errCode: InvalidRequest, id: "1"},
		{in: `{"jsonrpc":"2.0","id":1,"method":"a","params":"s"}`, errCode: InvalidRequest, id: "1"},
	} {
		p, err := Parse([]byte(tc.in), DefaultMaxDepth)
		if err != nil || p.Batch || len(p.Messages) != 1 {
			t.Errorf("%s: %+v, %v", tc.in, p, err)
			continue
		}
		m := p.Messages[0]
		switch {
		case tc.request != (m.Request != nil), tc.response != (m.Response != nil), (tc.errCode != 0) != (m.Err != nil):
			t.Errorf("%s: classified as %+v", tc.in, m)
		case tc.request && m.Request.IsNotification() != tc.notification:
			t.Errorf("%s: notification = %v", tc.in, m.Request.IsNotification())
		case m.Err != nil && m.Err.Code != tc.errCode:
			t.Errorf("%s: code %d, want %d", tc.in, m.Err.Code, tc.errCode)
		case string(m.ID) != tc.id:
			t.Errorf("%s: id %s, want %s", tc.in, m.ID, tc.id)
		}
	}
}

func TestParsePayloadErrors(t *testing.T) {
	for in, code := range map[string]int{
		``:                                     ParseError,
		`{"jsonrpc":"2.0",`:                    ParseError,
		`{"a":1} {"b":2}`:                      ParseError,
		strings.Repeat("[", DefaultMaxDepth+1): ParseError, // depth is checked before validity
		`[]`:                                   InvalidRequest,
		`"ping"`:                               InvalidRequest,
		`null`:                                 InvalidRequest,
		`{"s":"` + strings.Repeat("[", 100) + `"}`: 0, // brackets in strings do not count
	} {
		_, err := Parse([]byte(in), DefaultMaxDepth)
		switch {
		case code == 0 && err != nil:
			t.Errorf("%.40s: unexpected %v", in, err)
		case code != 0 && (err == nil || err.Code != code):
			t.Errorf("%.40s: err = %v, want code %d", in, err, code)
		}
	}
}

func TestParseBatch(t *testing.T) {
	p, err := Parse([]byte(`[{"jsonrpc":"2.0","id":1,"method":"a"},5,{"jsonrpc":"2.0","method":"n"}]`), DefaultMaxDepth)
	if err != nil || !p.Batch || len(p.Messages) != 3 {
		t.Fatalf("%+v, %v", p, err)
	}
	if p.Messages[0].Request == nil || p.Messages[1].Err == nil || !p.Messages[2].Request.IsNotification() {
		t.Errorf("batch elements misclassified: %+v", p.Messages)
	}
}

func TestResponseJSON(t *testing.T) {
	r, err := NewResult(json.RawMessage(`"a"`), map[string]int{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	if string(b) != `{"jsonrpc":"2.0","id":"a","result":{"x":1}}` {
		t.Errorf("result = %s", b)
	}
	b, _ = json.Marshal(NewError(nil, MethodNotFound, "Method not found"))
	if string(b) != `{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found"}}` {
		t.Errorf("error = %s", b)
	}
}

// FuzzParse checks that Parse never panics, classifies every element of an
// accepted payload exactly once, and that every request it accepts
// round-trips through JSON.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`,
		`[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"n"}]`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}`,
		`[[[[[[]]]]]]`, `{"s":"\"[\\"}`, `1e999`, `"\ud800"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, 8)
		if err != nil {
			if err.Code != ParseError && err.Code != InvalidRequest {
				t.Fatalf("unexpected code %d", err.Code)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(p.Messages) == 0 || (!p.Batch && len(p.Messages) != 1) {
			t.Fatalf("payload %+v", p)
		}
		for _, m := range p.Messages {
			set := 0
			for _, b := range []bool{m.Request != nil, m.Response != nil, m.Err != nil} {
				if b {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("message %+v has %d kinds", m, set)
			}
			if m.Request != nil {
				b, err := json.Marshal(m.Request)
				if err != nil {
					t.Fatalf("marshal %+v: %v", m.Request, err)
				}
				if q, err := Parse(b, 8); err != nil || q.Messages[0].Request == nil || q.Messages[0].Request.Method != m.Request.Method {
					t.Fatalf("request %s does not round-trip: %+v %v", b, q, err)
				}
			}
		}
	})
}
