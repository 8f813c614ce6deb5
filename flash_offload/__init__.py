"""LLM in a flash: language models larger than RAM, run from a bundled weight file on flash.

Weights of the FFN layers stay in the file; per token only the neurons a predictor marks
active are read (with a window of recently active neurons kept in DRAM). See
docs/flash_offload.md.
"""
