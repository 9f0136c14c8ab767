"""The course's cat / non-cat images for the experiments that need them, or why they are missing."""

from __future__ import annotations

CAT_DIR_HELP = ("folder holding train_catvnoncat.h5 and test_catvnoncat.h5 (default: where "
                "jaxdnn.data.load_catvnoncat() finds them; $JAXDNN_DATA if set)")


def load_cat(data_dir=None):
    """``(CatData, None)``, or ``(None, reason)``: the loader's message (which names the folder)
    and how to point at the data.

    ``data_dir``: the folder, or None for :func:`jaxdnn.data.load_catvnoncat`'s own default.
    """
    from jaxdnn import data

    try:
        return (data.load_catvnoncat() if data_dir is None
                else data.load_catvnoncat(data_dir)), None
    except (FileNotFoundError, ImportError, ValueError) as e:
        where = "" if data_dir is None else f" from {data_dir}"
        return None, (f"the cat / non-cat data could not be loaded{where}: {e}. Point at the "
                      "folder with --data-dir PATH (python -m experiments.reproduce --data-dir "
                      "PATH) or set JAXDNN_DATA=PATH.")
