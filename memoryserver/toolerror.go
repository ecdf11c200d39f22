package memoryserver

import "fmt"

// toolError is a failure the caller caused (unknown entity, bad arguments).
// It becomes a tool result with isError true, like the reference server's
// thrown errors; any other error is an internal error.
type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

func toolErrorf(format string, args ...any) error {
	return &toolError{msg: fmt.Sprintf(format, args...)}
}

// notFound is the reference server's message for a missing entity.
func notFound(name string) error {
	return toolErrorf("Entity with name %s not found", name)
}
