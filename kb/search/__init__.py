"""Search: hybrid retrieval over the index, and what a question asks (follow-ups, amounts, names)."""
