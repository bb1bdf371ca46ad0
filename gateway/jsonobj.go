package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// errNotObject means an event argument is not a JSON object.
var errNotObject = errors.New("gateway: argument is not a JSON object")

// object is a JSON object kept as its members, in order and byte-exact,
// so that a relay can change one member and leave the rest untouched.
type object struct {
	keys []string
	vals []json.RawMessage
}

// parseObject splits a JSON object into its members.
func parseObject(raw json.RawMessage) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	o := &object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		o.keys = append(o.keys, key)
		o.vals = append(o.vals, v)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return o, nil
}

// get returns the value of key; with duplicate keys the last one wins, as
// in JavaScript's JSON.parse.
func (o *object) get(key string) (json.RawMessage, bool) {
	for i := len(o.keys) - 1; i >= 0; i-- {
		if o.keys[i] == key {
			return o.vals[i], true
		}
	}
	return nil, false
}

// str returns key's value when it is a JSON string. present reports
// whether the key exists with a non-null value.
func (o *object) str(key string) (s string, present, isString bool) {
	v, ok := o.get(key)
	if !ok || string(v) == "null" {
		return "", false, false
	}
	if len(v) == 0 || v[0] != '"' {
		return "", true, false
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, false
	}
	return s, true, true
}

// boolean returns key's value when it is true or false.
func (o *object) boolean(key string) (*bool, bool) {
	v, ok := o.get(key)
	if !ok {
		return nil, false
	}
	switch string(v) {
	case "true":
		b := true
		return &b, true
	case "false":
		b := false
		return &b, true
	}
	return nil, false
}

// stamp sets key to v: every occurrence is replaced (so no duplicate can
// smuggle another value past a JSON.parse on the other side), or the key
// is added first when absent.
func (o *object) stamp(key string, v json.RawMessage) {
	found := false
	for i, k := range o.keys {
		if k == key {
			o.vals[i] = v
			found = true
		}
	}
	if !found {
		o.keys = append([]string{key}, o.keys...)
		o.vals = append([]json.RawMessage{v}, o.vals...)
	}
}

// encode writes the object back; unchanged members are byte-exact.
func (o *object) encode(dst []byte) []byte {
	dst = append(dst, '{')
	for i, k := range o.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = append(dst, o.vals[i]...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Member names and socket ids
// are nearly always plain ASCII ("source", "target", "data"), written
// directly; anything else goes through the encoder.
func appendString(dst []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			kb, _ := json.Marshal(k)
			return append(dst, kb...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, k...)
	return append(dst, '"')
}

// jsonString encodes s as a JSON string.
func jsonString(s string) json.RawMessage { return appendString(nil, s) }
