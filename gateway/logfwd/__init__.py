"""Adobe I/O Runtime log forwarding: per-namespace destinations, and each activation's log lines sent to them."""
