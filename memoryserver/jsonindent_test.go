package memoryserver

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

func TestIndentJSONMatchesJSONIndent(t *testing.T) {
	reference, err := os.ReadFile("testdata/reference.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{
		[]byte(`{}`), []byte(`[]`), []byte(`"s"`), []byte(`1`), []byte(`null`),
		[]byte(`{"a":[],"b":{},"c":[{}],"d":[[],[1,2]],"e":{"f":{"g":null}}}`),
		[]byte(`["{[,:]}","\"","\\","\\\"","x\\\\",":",",",true,false,-1.5e3]`),
		[]byte(`{"k\"{":"v]\\","":""}`),
	}
	for line := range bytes.Lines(reference) {
		inputs = append(inputs, bytes.TrimSuffix(line, []byte("\n")))
	}
	for _, in := range inputs {
		var want bytes.Buffer
		if err := json.Indent(&want, in, "", "  "); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := indentJSON(in, "  "); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("indentJSON(%s) =\n%s\nwant\n%s", in, got, want.Bytes())
		}
	}
}
