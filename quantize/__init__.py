"""Number formats and quantization: fixed point for FPU-less cores (fixed_point, fixed_graph,
fixed_reference), per-group RTN/GPTQ (group_quant) and matryoshka bit-nested weights
(matryoshka) for the MoE experts of flash_offload."""
