"""The corpus pipeline: corpus inputs, decode/model/align/write stages, output layout and bookkeeping."""
