"""Events: trigger fires, their rules' activations and the alarm feeds."""
