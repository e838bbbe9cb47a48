"""Answers: whether the sources cover a question, and the answerers (quotes, or a model) with their citations."""
