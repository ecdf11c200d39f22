package transport

import (
	"mime"
	"strings"
)

// jsonContentType is the Content-Type every POST reaches the backend with.
const jsonContentType = "application/json"

// acceptableContentType reports whether a POST's Content-Type lets the
// backend read the body exactly as the gateway does: absent, or
// application/json with no parameter but charset=utf-8. Anything else is
// refused, not relabelled: a body parser that honours the charset would
// decode other bytes than the ones the gateway decided on (in UTF-7,
// "nam+AGU-" is "name", a second tool name the gateway never saw).
func acceptableContentType(value string) bool {
	if value == "" {
		return true
	}
	mediaType, params, err := mime.ParseMediaType(value)
	if err != nil || mediaType != jsonContentType {
		return false
	}
	for name, v := range params {
		if name != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}
