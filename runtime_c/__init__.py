"""The C runtime, shipped as package data (include/, kernels/, protocol/)."""
