"""One activation, top to bottom: admission, the controller, sequences, records."""
