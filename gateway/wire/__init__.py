"""Every shape that crosses the wire: the models, the error texts and the one JSON codec."""
