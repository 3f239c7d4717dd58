"""What an operator sees of each request: the access line and the metrics."""
