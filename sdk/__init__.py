"""edgekiln: trained models -> firmware for ultra-low-power devices."""
__version__ = "0.1.0"


def __getattr__(name):  # lazy so `import edgekiln` stays cheap and the core imports nothing heavy
    if name in ("convert", "export", "CompiledModel", "load_model"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
