"""`kiln moe ...` (moved here from edgekiln.flash_offload.moe_cli next)."""
from edgekiln.flash_offload.moe_cli import moe_group

from ._app import main

main.add_command(moe_group)
