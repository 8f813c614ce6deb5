"""edgekiln.boards: board definitions (boards/*.toml, found by file), the serial transport,
the framed protocol client and flashers (pyocd, openocd, emulated). See docs/boards.md."""
