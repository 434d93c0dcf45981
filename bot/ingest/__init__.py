"""Ingest: drafts from sources become stored, deduplicated, summarised articles in stories."""
