"""Output kinds: what each output needs, where it is computed, its grid, files and checks.

An :class:`~svcprep.outputs.base.Output` says which audio it needs (:class:`AudioRequest`), whether a model
computes it on the device (:class:`ModelRequest`), what runs in the decode stage (:meth:`Output.decode`) and in
the main process after the model (:meth:`Output.finish`), and what it records (:meth:`Output.record`). The run
loop iterates outputs and never branches on their kind.
"""

# Every output kind defined here registers itself (``Output.of_kind``: verify finds a recorded kind's checks).
from svcprep.outputs import features, pitch, spectral, stored_audio  # noqa: E402, F401
