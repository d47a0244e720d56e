"""Where outputs live: a :class:`~svcprep.store.sink.Sink` per output root (write, read, header, exists, list,
dataset-level files; opened with the root's naming, closed at the end), and the root's bookkeeping beside it
(:class:`~svcprep.store.bookkeeping.Bookkeeping`: records, done-lists, failures). Nothing outside this package
builds an output path or opens an output file.
"""

from svcprep.outputs.records import FileRecord, FramesRecord, GridRecord, OutputRecord, Wav
from svcprep.store.bookkeeping import Bookkeeping
from svcprep.store.codecs import CODECS, Codec
from svcprep.store.sink import SINKS, Sink, open_sink
from svcprep.store.tree import OutputTree

__all__ = ["CODECS", "SINKS", "Bookkeeping", "Codec", "FileRecord", "FramesRecord", "GridRecord", "OutputRecord",
           "OutputTree", "Sink", "Wav", "open_sink"]
