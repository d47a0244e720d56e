"""Source separation before everything else: vocals out of a song, lead out of the vocals, reverb out of the lead.

Checkpoints in the Music-Source-Separation-Training format (a ``.ckpt`` state dict and its YAML) are built by
svcprep's own modules (:mod:`~svcprep.separation.roformer`), read through the restricted unpickler and a YAML loader
that adds tuples and nothing else (:mod:`~svcprep.separation.msst_config`), and run over chunks of any number of
tracks (:mod:`~svcprep.separation.chunking`, :mod:`~svcprep.separation.separator`).
"""
