"""Whisklet's gateway: the OpenWhisk REST API over the pool, one layer per subpackage."""
