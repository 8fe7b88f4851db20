"""The Docker sandbox driver: hardened runner containers through one Docker engine."""
