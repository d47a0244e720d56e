"""F0 and voicing on the exact mel frame grid (``tracking``), or on Amphion's own grid (``amphion_grid``)."""
