"""Text: languages, words and sentences, shared by every stage."""
