"""Web actions as pure functions: the HTTP request into arguments, the result into a response."""
