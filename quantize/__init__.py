"""Number formats and quantization: fixed point for FPU-less cores (fixed_point: Q formats;
fixed_graph.prepare_fixed: folds and input formats; fixed_ops/<op>.py: each op's integer
constants, accumulator widths and golden model, written into the IR for codegen to read;
fixed_reference: the golden model's entry), per-group RTN/GPTQ (group_quant) and matryoshka
bit-nested weights (matryoshka) for the MoE experts of flash_offload. Imports only the core."""
