"""The index: the embedder, the Chroma store and its generations, and how translations align."""
