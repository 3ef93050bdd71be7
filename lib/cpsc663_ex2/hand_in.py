"""The Gradescope hand-in: ``dist/cpsc663_ex2/`` with every file at its top level, as the
handout asks: ``452_<lastname><initials>_assignment2.pdf``, the stand-alone scripts
``prob4_CNN.py``, ``prob5_AE.py``, ``prob6_CAE.py``, the trained ``mnist_ae.pt``,
``mnist_cae.pt`` and ``mnist-cae-skip.pt`` (plus the two denoising models), and the executed
notebooks merged into ``<lastname><initials>_assignment2.ipynb``.  Nothing else: the scripts
need no ``lib``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from lib import build, paths, submission
from lib.cpsc663_ex2.experiments import HAND_IN_NAMES

MODELS = ("mnist_ae.pt", *HAND_IN_NAMES)
SCRIPTS = ("prob4_CNN.py", "prob5_AE.py", "prob6_CAE.py")


def package() -> Path:
    who = submission._identity(("last_name", "initials"))
    name = submission._file_part(who["last_name"] + who["initials"], "last_name + initials")
    handle = re.sub(r"[^a-z0-9]", "", name.lower())
    pdf = submission._require_pdf("cpsc663_ex2")
    merged = paths.report_dir() / "cpsc663_ex2.ipynb"
    model_dir = paths.exported_models_dir("cpsc663_ex2")
    missing = [name for name in MODELS if not (model_dir / name).is_file()]
    if missing or not merged.is_file():
        raise build.BuildError(f"{model_dir} lacks {', '.join(missing) or merged.name}; fix: run `make report` first")

    def fill(folder: Path) -> None:
        shutil.copy2(pdf, folder / f"452_{handle}_assignment2.pdf")
        shutil.copy2(merged, folder / f"{handle}_assignment2.ipynb")
        for script in SCRIPTS:
            shutil.copy2(Path(__file__).parent / script, folder / script)
        for model in MODELS:
            shutil.copy2(model_dir / model, folder / model)

    return submission._swap_in_folder(submission.dist_dir() / "cpsc663_ex2", fill)
