"""Text processing: sentence splitting, extractive summaries and story grouping.

Everything here is pure CPU work, deterministic for the same input and offline.
"""
