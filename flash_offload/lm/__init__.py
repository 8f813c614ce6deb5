"""The byte-level decoder both products run: numpy model and KV cache, corpus, checkpoints,
and the seeded torch training loop (the `train` extra). Imports nothing of dense/ or moe/."""
