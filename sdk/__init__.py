"""edgekiln: trained models -> firmware for ultra-low-power devices."""
from .version import __version__  # noqa: F401


def __getattr__(name):  # lazy so `import edgekiln` stays cheap and the core imports nothing heavy
    if name in ("convert", "export", "plan", "CompiledModel", "load_model", "quantize_network"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
