package logging

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// categoryKey is the attribute key that Category uses. The handler takes
// the value for the Category field of the line instead of printing it as
// key=value; other slog handlers show it as an ordinary attribute.
const categoryKey = "category"

// Category returns an attribute that sets the category word of a line,
// "General" when absent (§3.10: "General Notice:"). Use it on one call, or
// with With for a subsystem logger: log.With(logging.Category("LDAP")).
func Category(name string) slog.Attr { return slog.String(categoryKey, name) }

// handler formats records as MMP log lines. It is immutable; With* return
// copies. Attributes added with WithAttrs are formatted once, there, rather
// than on every line.
type handler struct {
	s        *sink
	category string // "" = General
	session  []byte // "(id N) ", or nil outside a session
	attrs    []byte // " key=value" pairs from WithAttrs, already formatted
	group    string // "a.b." prefix for keys, from WithGroup
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.s.level.Level()
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	// Cap the slice so that appending never writes into the parent's array.
	h2.attrs = h.attrs[:len(h.attrs):len(h.attrs)]
	for _, a := range as {
		if a.Key == categoryKey {
			h2.category = a.Value.Resolve().String()
			continue
		}
		h2.attrs = appendAttr(h2.attrs, h2.group, a)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// bufPool holds line buffers so that a line costs no allocation; a line is
// built whole and written with one call so that concurrent writers and the
// kernel's O_APPEND never split it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooled keeps a rare huge line (a protocol trace of a big literal) from
// pinning its buffer in the pool for ever.
const maxPooled = 16 << 10

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	form := h.s.form.Load()
	t := r.Time
	if form.now != nil {
		t = form.now()
	} else if t.IsZero() {
		t = time.Now()
	}

	category := h.category
	if r.NumAttrs() > 0 {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == categoryKey {
				category = a.Value.Resolve().String()
			}
			return true
		})
	}
	if category == "" {
		category = "General"
	}

	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	var day int
	b, day = appendStamp(b, t)
	b = append(b, form.prefix...)
	b = appendText(b, category)
	b = append(b, ' ')
	b = append(b, severity(r.Level)...)
	b = append(b, ": "...)
	b = append(b, h.session...)
	b = appendText(b, r.Message)
	b = append(b, h.attrs...)
	if r.NumAttrs() > 0 {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != categoryKey {
				b = appendAttr(b, h.group, a)
			}
			return true
		})
	}
	b = append(b, '\n')

	h.s.write(b, day)

	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
	return nil
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendStamp appends "[02/Jul/2019:11:26:57 +0200] " and returns the day
// as yyyymmdd, which the sink compares with its file's day. It formats by
// hand because time.Format is several times slower and this runs per line.
func appendStamp(b []byte, t time.Time) ([]byte, int) {
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	_, off := t.Zone()
	b = append(b, '[')
	b = appendPad(b, d, 2)
	b = append(b, '/')
	b = append(b, months[mo-1]...)
	b = append(b, '/')
	b = appendPad(b, y, 4)
	b = append(b, ':')
	b = appendPad(b, hh, 2)
	b = append(b, ':')
	b = appendPad(b, mm, 2)
	b = append(b, ':')
	b = appendPad(b, ss, 2)
	b = append(b, ' ')
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	off /= 60
	b = appendPad(b, off/60, 2)
	b = appendPad(b, off%60, 2)
	b = append(b, "] "...)
	return b, dayKey(y, mo, d)
}

// appendPad appends a non-negative n in decimal, zero-padded to width.
func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + n)
	return append(b, tmp[i:]...)
}

// appendText appends a message, escaping control characters: messages
// often contain what a client sent (a login name, a command), and a CR or
// LF in it must not be able to forge a second log line.
func appendText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return appendEscaped(b, s)
		}
	}
	return append(b, s...)
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20 || c == 0x7f:
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendAttr appends " key=value", flattening groups into dotted keys as
// slog.TextHandler does. Values are resolved first, which is what turns a
// Secret into **redacted**.
func appendAttr(b []byte, group string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		as := v.Group()
		if len(as) == 0 {
			return b
		}
		g := group
		if a.Key != "" {
			g = group + a.Key + "."
		}
		for _, ga := range as {
			b = appendAttr(b, g, ga)
		}
		return b
	}
	if a.Key == "" {
		return b // slog's rule: an attribute without key is ignored
	}
	b = append(b, ' ')
	if group == "" {
		b = appendValueString(b, a.Key)
	} else {
		b = appendValueString(b, group+a.Key)
	}
	b = append(b, '=')
	return appendValue(b, v)
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendValueString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendValueString(b, v.Duration().String())
	case slog.KindTime:
		return v.Time().AppendFormat(b, time.RFC3339)
	default:
		switch x := v.Any().(type) {
		case error:
			return appendValueString(b, x.Error())
		case encoding.TextMarshaler:
			if t, err := x.MarshalText(); err == nil {
				return appendValueString(b, string(t))
			}
		case []byte:
			return appendValueString(b, string(x))
		}
		// %+v as slog.TextHandler does; fmt calls Secret's Format for
		// exported fields of structs, so those stay redacted too.
		return appendValueString(b, fmt.Sprintf("%+v", v.Any()))
	}
}

// appendValueString appends s bare if it is a plain word, quoted with Go
// escapes if it is empty or holds a blank, a quote, '=' or anything
// unprintable, so that every value stays one field for a log parser and
// hostile input cannot break the line.
func appendValueString(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '"' || c == '=' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
