"""IR -> self-contained C project (model.c/.h, harness, runtime subset, linker script, Makefile)."""
from .project import plan, render_project, ProjectInfo  # noqa: F401
from .memory_plan import memory_plan  # noqa: F401
