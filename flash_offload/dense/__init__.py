"""LLM in a flash: a dense ReLU decoder larger than RAM, its FFN neurons read from an .ekf file
as a predictor marks them active, with a window cache in DRAM; the C runtime in c/.
See docs/flash_offload.md."""
