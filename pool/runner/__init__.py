"""Talking to one runner: the HTTP client, one activation on it, its outcome, its logs."""
