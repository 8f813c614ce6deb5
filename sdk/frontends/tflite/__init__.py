"""TFLite frontend (arriving)."""
