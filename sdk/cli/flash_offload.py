"""`kiln flash-offload ...` (moved here from edgekiln.flash_offload.cli next)."""
from edgekiln.flash_offload.cli import flash_offload_group

from ._app import main

main.add_command(flash_offload_group)
