"""Built-in YAML presets (mel grids) and run configs."""
