"""The model server: its client, its prompts, and the probe that tells whether it can answer."""
