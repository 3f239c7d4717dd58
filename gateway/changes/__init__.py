"""Live changes: the fan-out of committed history entries to this process's subscribers."""
