"""The web console: its files and the routes that serve them (`GET /console`)."""
