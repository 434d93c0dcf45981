"""Delivery: render briefings per platform and post them."""
