"""feed_svc: home timelines in Redis with hybrid fan-out."""
