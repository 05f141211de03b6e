"""RFC 2136 engine: zone reading, update building and sending."""
