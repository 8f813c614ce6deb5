"""File plumbing shared by the .ekf (dense) and .ekm (MoE) weight files: 4 KiB-aligned
sections with crc32 checksums, atomic writes, and cold positional reads (O_DIRECT where the
filesystem allows it). Imports nothing of lm/, dense/ or moe/."""
