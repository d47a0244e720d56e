"""Demo material: a generated sung corpus and tiny random-weight models in real on-disk formats."""
