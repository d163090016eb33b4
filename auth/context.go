// Package auth turns credentials into an authorization context: who is
// asking, as Ditto subject ids such as "nginx:ditto".
package auth

import "time"

// Context is an authenticated caller.
type Context struct {
	// Subjects are the caller's subject ids; the first is the default subject.
	Subjects []string
	// Expiry is when the credentials stop being valid (a JWT's exp); the zero
	// time means never.
	Expiry time.Time
}

// DefaultSubject is the first subject, or "" for an empty context.
func (c Context) DefaultSubject() string {
	if len(c.Subjects) == 0 {
		return ""
	}
	return c.Subjects[0]
}
