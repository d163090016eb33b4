package policy

import "github.com/twinway/twinway/protocol"

// Granted tells whether the view holds perm at the resource itself, whatever
// is granted or revoked below it. It is the question Ditto asks to address a
// live signal (Enforcer.getSubjectsWithPermission in LiveSignalEnforcement):
// a live command or message reaches the subjects that hold READ on its
// resource, and is not pruned for them, so that neither a grant further down
// (partial READ) nor a revoke further down (unrestricted READ) changes the
// answer.
func (v *View) Granted(perm Permission, typ string, path protocol.Pointer) bool {
	return v.decide(perm, full, typ, path)
}
