package provider

import "time"

// SetPasswordCheckWait makes p's logins wait d instead of passwordCheckWait
// for a free password-check slot before the 503. Only tests call it (this
// file is compiled into tests alone), so that a test of the wait need not
// sit out production's 2 s. Call it before p serves its first request.
func SetPasswordCheckWait(p *Provider, d time.Duration) { p.throttle.slotWait = d }
