package memoryserver

// indentJSON returns src, compact JSON as encoding/json writes it, laid out
// as json.Indent(&buf, src, "", indent) would, which is also
// JSON.stringify(v, null, indent)'s layout: one member or element per line,
// `"key": value`, and empty objects and arrays kept as {} and []. It skips
// json.Indent's general-purpose scanner, which made indenting the text of a
// large reply cost more than encoding it; src must be valid and contain no
// insignificant whitespace.
func indentJSON(src []byte, indent string) []byte {
	dst := make([]byte, 0, 2*len(src))
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"': // copy the string up to its closing quote
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			j = min(j, len(src)-1)
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, c, src[i+1])
				i++
				continue
			}
			dst = append(dst, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, c, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
