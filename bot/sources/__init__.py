"""Sources: the seed folder, HTTP feeds, and full-text extraction."""
