"""Matryoshka MoE: a mixture-of-experts decoder (lm/'s attention) whose experts are stored as
bit-planes in an .ekm file, read at per-token bit-widths chosen by a bit router and scheduled
by HEBF under a memory budget. Quantization itself lives in edgekiln.quantize.
See docs/moe_matryoshka.md."""
