"""Delivery: the outbox (claim, send, mark; exactly once per slot) and the plain-text renderer."""
