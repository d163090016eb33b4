// Package protocol is the Eclipse Ditto Protocol: the JSON envelope (topic,
// headers, path, value, status, …), the topic grammar, header names and their
// parsing, JSON pointers, and Ditto's error type with its catalogue of codes.
//
// The package does no I/O. Decoding never panics: every malformed input maps to
// a *Error carrying Ditto's code and HTTP status.
package protocol
