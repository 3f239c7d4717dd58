"""Rate limits per client: token buckets of cost points, in process or in Redis."""
