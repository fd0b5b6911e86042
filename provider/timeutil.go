package provider

import "time"

// nilTime is "no expiry" for records that live until deleted.
var nilTime time.Time
