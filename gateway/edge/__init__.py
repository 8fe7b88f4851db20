"""The HTTP edge: the protocol bounds, the request envelope and the HTTP metrics."""
