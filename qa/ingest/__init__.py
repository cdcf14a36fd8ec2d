"""Ingest: files, uploads, feed items and pages -> Articles -> chunks; copies of one story (MinHash)."""
