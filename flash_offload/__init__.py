"""Language models larger than RAM, run from weight files on flash.

lm/ is the decoder both products share, io/ the aligned checksummed file sections and cold
reads; dense/ is LLM in a flash (FFN neurons read as a predictor marks them active, see
docs/flash_offload.md), moe/ the matryoshka MoE (bit-plane experts, see
docs/moe_matryoshka.md). dense/ and moe/ never import each other.
"""
