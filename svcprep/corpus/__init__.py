"""The corpus: what a run reads (an audio dir, an Amphion dataset dir, a manifest), and the stages that turn one
entry into others before any output is made."""
