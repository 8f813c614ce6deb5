"""One module per IR op; each registers its Lowering with @lowers."""
