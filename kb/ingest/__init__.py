"""Ingest: load a folder's articles, clean them, drop duplicates, chunk them, and hand them to the index."""
