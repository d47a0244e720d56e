"""Where outputs live: one :class:`Store` interface (write, read, header, exists, list) and its bookkeeping.

:class:`~svcprep.store.files.FileStore` keeps one file per (file kind, uid) at paths a recipe's naming decides;
a sharded store can implement the same interface. Nothing outside this package builds an output path or
reads an output file.
"""

from svcprep.outputs.records import FileRecord, FramesRecord, GridRecord, OutputRecord, Wav
from svcprep.store.base import Store, open_store
from svcprep.store.codecs import CODECS, Codec

__all__ = ["CODECS", "Codec", "FileRecord", "FramesRecord", "GridRecord", "OutputRecord", "Store", "Wav",
           "open_store"]
