"""The OSC server: protocol, UDP transport, worker queue."""
