package jsonrpc

import (
	"encoding/json"
	"testing"
)

func TestReplaceMemberKeepsOtherBytes(t *testing.T) {
	for _, c := range []struct{ in, key, value, want string }{
		{`{"a":1,"_meta":{"x":1},"b":2.50}`, "_meta", `{}`, `{"a":1,"_meta":{},"b":2.50}`},
		{`{"a":1,"_meta":{"x":1},"b":2.50}`, "_meta", "", `{"a":1,"b":2.50}`},
		{`{"a":1, "_meta" : {"x":1} }`, "_meta", "", `{"a":1}`},
		{`{"_meta":{"x":1}}`, "_meta", "", `{}`},
		{`{"_meta":{"x":1}, "a":[1,{"_meta":2}]}`, "_meta", "", `{"a":[1,{"_meta":2}]}`},
		{`{"\u005fmeta":{"x":1},"a":1}`, "_meta", "", `{"a":1}`},
		{`{"a":"_meta"}`, "_meta", "", `{"a":"_meta"}`},
		{`{}`, "_meta", "", `{}`},
	} {
		var value []byte
		if c.value != "" {
			value = []byte(c.value)
		}
		got := string(ReplaceMember([]byte(c.in), c.key, value))
		if got != c.want {
			t.Errorf("ReplaceMember(%s, %q, %s) = %s, want %s", c.in, c.key, c.value, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("ReplaceMember(%s) = %s: not JSON", c.in, got)
		}
	}
}

// A duplicate key inside _meta would let the gateway validate one protocol
// version while the backend reads the other.
func TestObjectRefusesDuplicateKeys(t *testing.T) {
	if _, err := Object(json.RawMessage(`{"v":"a","v":"b"}`), "params._meta"); err == nil || err.Code != InvalidRequest {
		t.Fatalf("duplicate key: %v, want InvalidRequest", err)
	}
	if _, err := Object(json.RawMessage(`[1]`), "params._meta"); err == nil {
		t.Fatal("array accepted as an object")
	}
	m, err := Object(json.RawMessage(`{"v":"a","w":1}`), "params._meta")
	if err != nil || string(m["v"]) != `"a"` {
		t.Fatalf("Object: %v %v", m, err)
	}
}

func TestParseReadsURIAndMetaByExactKey(t *testing.T) {
	p, err := Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memory://a","_meta":{"k":1}}}`), DefaultMaxDepth)
	if err != nil || p.Messages[0].Request == nil {
		t.Fatal(err, p.Messages[0].Err)
	}
	req := p.Messages[0].Request
	if req.URI != "memory://a" || string(req.Meta) != `{"k":1}` {
		t.Fatalf("URI %q Meta %s", req.URI, req.Meta)
	}
	// A case variant of uri: a Go backend would read it as uri.
	p, _ = Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memory://a","URI":"memory://b"}}`), DefaultMaxDepth)
	if p.Messages[0].Err == nil {
		t.Fatal("case variant of params.uri accepted")
	}
}
