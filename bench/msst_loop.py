"""The reference's own per-file separation loop: Music-Source-Separation-Training's ``proc_folder`` (the ``msst``
package on the index, MIT, installed by ``make bench`` with ``--no-deps`` beside its own model dependencies), run
unmodified: each file loaded whole (librosa), ``demix`` over its chunks, the stem written.

``python bench/msst_loop.py MODEL_TYPE CONFIG CKPT INPUT_DIR OUT_DIR``
"""

from __future__ import annotations

import sys


def main(model_type: str, config: str, checkpoint: str, input_dir: str, out_dir: str) -> None:
    from msst._inference import proc_folder

    proc_folder({"model_type": model_type, "config_path": config, "start_check_point": checkpoint,
                 "input_folder": input_dir, "store_dir": out_dir, "force_cpu": True, "disable_detailed_pbar": True,
                 "pcm_type": "FLOAT"})


if __name__ == "__main__":
    main(*sys.argv[1:6])
