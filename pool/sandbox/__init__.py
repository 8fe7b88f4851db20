"""Sandbox drivers: how the pool creates and destroys isolated runners."""
