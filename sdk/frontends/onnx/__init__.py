"""ONNX frontend (arriving)."""
