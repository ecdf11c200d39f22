package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
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

func TestParseRefusesAmbiguousMembers(t *testing.T) {
	many := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`
	for i := range 40 {
		many += `"k` + strconv.Itoa(i) + `":1,`
	}
	many += `"k3":2}}`
	for in, id := range map[string]string{
		// The attack: a gateway reading "NAME" or the last "name" and a
		// backend reading the other.
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_tool","NAME":"read_tool"}}`:   "1",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_tool","name":"read_tool"}}`:   "1",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_tool","\u006eame":"read"}}`:   "1",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_tool","_META":{}}}`:            "1",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{},"arguments":{}}}`: "1",
		`{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call"}`:                                     "1",
		`{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}`:                                     "1",
		`{"jsonrpc":"2.0","id":1,"method":"ping","params":{},"PARAMS":{"name":"x"}}`:                         "1",
		`{"jsonrpc":"2.0","jſonrpc":"1.0","id":1,"method":"ping"}`:                                           "1", // U+017F folds to s
		`{"jsonrpc":"2.0","id":1,"result":{},"Method":"tools/call"}`:                                         "1",
		`{"jsonrpc":"2.0","method":"ping","METHOD":"tools/call","id":7}`:                                     "7", // the id after the refused member
		`{"jsonrpc":"2.0","id":1,"ID":2,"method":"ping"}`:                                                    "",
		`{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`:                                                    "",
		`{"jsonrpc":"2.0","id":{},"method":"ping","x":1,"x":2}`:                                              "",
		many: "1",
	} {
		p, err := Parse([]byte(in), DefaultMaxDepth)
		if err != nil || len(p.Messages) != 1 {
			t.Errorf("%s: %+v %v", in, p, err)
			continue
		}
		m := p.Messages[0]
		if m.Err == nil || m.Err.Code != InvalidRequest || !strings.Contains(m.Err.Message, "member") {
			t.Errorf("%s: accepted as %+v", in, m)
		}
		if string(m.ID) != id {
			t.Errorf("%s: id %s, want %q", in, m.ID, id)
		}
	}
}

func TestParseReadsNameByExactKey(t *testing.T) {
	for in, name := range map[string]string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph"}}`:                         "read_graph",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\u0062"}}`:                            "ab",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"names":"x","arguments":{"NAME":1,"name":2}}}`: "",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["x"]}`:                                         "",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}`:                                    "",
	} {
		p, err := Parse([]byte(in), DefaultMaxDepth)
		if err != nil || p.Messages[0].Request == nil {
			t.Errorf("%s: %+v %v", in, p, err)
			continue
		}
		if got := p.Messages[0].Request.Name; got != name {
			t.Errorf("%s: name %q, want %q", in, got, name)
		}
	}
}

func TestParseRefusesAmbiguousBatchElements(t *testing.T) {
	p, err := Parse([]byte(`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"w","Name":"r"}}]`), DefaultMaxDepth)
	if err != nil || len(p.Messages) != 2 {
		t.Fatalf("%+v, %v", p, err)
	}
	if p.Messages[0].Request == nil || p.Messages[1].Err == nil || string(p.Messages[1].ID) != "2" {
		t.Errorf("batch elements misclassified: %+v", p.Messages)
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
// accepted payload exactly once, that every request it accepts round-trips
// through JSON, and that every message it accepts has one reading: no
// repeated key and no case variant of a decided member, at the top level
// and in params (checked here with json.Decoder, independently of Parse).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`,
		`[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"n"}]`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}`,
		`[[[[[[]]]]]]`, `{"s":"\"[\\"}`, `1e999`, `"\ud800"`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"w","NAME":"r"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a","params":{"name":"w","\u006eame":"r"}},{"jsonrpc":"2.0","id":1,"ID":2,"method":"a"}]`,
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
		elems := []json.RawMessage{data}
		if p.Batch {
			if err := json.Unmarshal(data, &elems); err != nil || len(elems) != len(p.Messages) {
				t.Fatalf("batch %q: %d messages, %v", data, len(p.Messages), err)
			}
		}
		for i, m := range p.Messages {
			set := 0
			for _, b := range []bool{m.Request != nil, m.Response != nil, m.Err != nil} {
				if b {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("message %+v has %d kinds", m, set)
			}
			if m.Err == nil {
				assertOneReading(t, elems[i], m)
				assertMapReading(t, elems[i], m)
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

// assertMapReading fails when the members Parse read in place differ from
// what decoding the message into a map gives.
func assertMapReading(t *testing.T, data []byte, m Message) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	if !bytes.Equal(m.ID, members["id"]) {
		t.Fatalf("%q: id %q, a map reads %q", data, m.ID, members["id"])
	}
	if m.Request != nil && !bytes.Equal(m.Request.Params, members["params"]) && string(members["params"]) != "null" {
		t.Fatalf("%q: params %q, a map reads %q", data, m.Request.Params, members["params"])
	}
	if m.Response != nil && !bytes.Equal(m.Response.Result, members["result"]) {
		t.Fatalf("%q: result %q, a map reads %q", data, m.Response.Result, members["result"])
	}
}

// assertOneReading fails when the accepted message m, read from data, has
// a repeated key or a case variant of a decided member at the depths Parse
// checks, or a Name other than params' exact "name".
func assertOneReading(t *testing.T, data []byte, m Message) {
	t.Helper()
	top := decoderMembers(t, data, messageMembers)
	if m.Request == nil {
		return
	}
	params, ok := top["params"]
	if !ok || !bytes.HasPrefix(bytes.TrimLeft(params, " \t\r\n"), []byte("{")) {
		return
	}
	var name string
	_ = json.Unmarshal(decoderMembers(t, params, paramsMembers)["name"], &name)
	if name != m.Request.Name {
		t.Fatalf("Name %q, params.name %q", m.Request.Name, name)
	}
}

// decoderMembers returns the members of the JSON object obj, failing on a
// repeated key or a case variant of decided.
func decoderMembers(t *testing.T, obj []byte, decided []string) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%q: %v", obj, err)
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
		key := tok.(string)
		if _, dup := members[key]; dup {
			t.Fatalf("accepted %q with key %q twice", obj, key)
		}
		for _, d := range decided {
			if key != d && strings.EqualFold(key, d) {
				t.Fatalf("accepted %q with %q, a case variant of %q", obj, key, d)
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", obj, err)
		}
		members[key] = v
	}
	return members
}
