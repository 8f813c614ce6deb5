"""Number formats and quantization (fixed point, int8/int4, PTQ methods) - later issues."""
