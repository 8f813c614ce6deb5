"""The edgekiln version: core, so every stage can stamp its artifacts without the shell."""
__version__ = "0.1.0"
