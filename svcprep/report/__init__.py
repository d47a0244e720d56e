"""The data report: per-clip quality, per-singer totals and trainer readiness of a corpus or an output tree, from
one streaming read of each file and no model weights."""
