package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

// writeJSON answers v as JSON, indented by two spaces (what
// json.MarshalIndent writes), and a newline.
func writeJSON(w http.ResponseWriter, code int, v any) {
	bp := jsonBufs.Get().(*jsonBuf)
	defer jsonBufs.Put(bp)
	bp.compact.Reset()
	enc := json.NewEncoder(&bp.compact)
	var b []byte
	if err := enc.Encode(v); err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer"}`+"\n")
	} else {
		bp.out = appendIndentJSON(bp.out[:0], bytes.TrimSuffix(bp.compact.Bytes(), []byte("\n")))
		b = append(bp.out, '\n')
		bp.out = b
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
	// A rare huge answer does not stay in the pool.
	if bp.compact.Cap() > maxPooledJSON || cap(bp.out) > maxPooledJSON {
		*bp = jsonBuf{}
	}
}

// maxPooledJSON bounds the buffers writeJSON keeps for the next answer.
const maxPooledJSON = 1 << 20

type jsonBuf struct {
	compact bytes.Buffer
	out     []byte
}

var jsonBufs = sync.Pool{New: func() any { return new(jsonBuf) }}

const spaces = "                                " // 32

// appendIndentJSON appends src, compact JSON as encoding/json writes it
// (valid, no space outside strings), indented as json.Indent(dst, src,
// "", "  ") would indent it: the same bytes, without json.Indent's
// validating scanner, which costs several times the encoding (the CPU
// profile of bench/scale.sh's module pages).
func appendIndentJSON(dst, src []byte) []byte {
	depth := 0
	open := false // after '{' or '[': the line break waits for the next byte
	newline := func() {
		dst = append(dst, '\n')
		n := 2 * depth
		for n > len(spaces) {
			dst = append(dst, spaces...)
			n -= len(spaces)
		}
		dst = append(dst, spaces[:n]...)
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if open && c != '}' && c != ']' {
			open = false
			depth++
			newline()
		}
		switch c {
		case '"':
			// A string, copied as it is up to its closing quote.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++ // the escaped byte
				}
				j++
			}
			j = min(j, len(src)-1)
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			open = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if open {
				open = false // empty: {} or []
			} else {
				depth--
				newline()
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
