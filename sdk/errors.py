"""Errors users see. Each message says what was wrong and what to do about it."""


class EdgekilnError(Exception):
    """Base class: the CLI prints these without a traceback."""


class UnsupportedModelError(EdgekilnError):
    """An estimator, op or option that edgekiln cannot export."""


class ModelLoadError(EdgekilnError):
    """A model file that is missing, malformed or unsafe to load."""


class InputError(EdgekilnError):
    """Input data of the wrong shape or with values the model cannot take."""


class MemoryBudgetError(EdgekilnError):
    """The model does not fit the target's memory regions."""


class ToolchainError(EdgekilnError):
    """A cross compiler, simulator or build step is missing or failed."""


class SimulatorError(EdgekilnError):
    """A simulator run that crashed, hung or printed something unparseable."""
