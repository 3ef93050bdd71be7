"""idl_ex3's submission folder ``dist/idl_ex3/``: the PDF, the executed notebooks in report
order, the saved generators (each with the decoder it needs) and ``lib/``, plus a README
saying how to sample from them."""

from __future__ import annotations

import shutil
from pathlib import Path

from lib import build, paths, submission
from lib.idl_ex3 import NOTEBOOKS


def package() -> Path:
    who = submission._identity(("name",))
    pdf = submission._require_pdf("idl_ex3")
    model_dir = paths.exported_models_dir("idl_ex3")
    saved = sorted(model_dir.glob("*.pt")) if model_dir.is_dir() else []
    if not saved:
        raise build.BuildError(f"{model_dir} holds no saved models; fix: run `make report` first")
    readme = (
        f"Intro to Deep Learning, Exercise 3 - {who['name']}\n\n"
        "idl_ex3.pdf: the report (theory and practical parts).\n"
        "notebooks/: the executed notebooks, in report order.\n"
        "models/: the trained generators and the auto-encoder decoder they need; load them with\n"
        "  from lib.idl_ex3.gan import load_sampler; sample = load_sampler('models/<file>.pt'); images = sample(16)\n"
        "lib/: the code the notebooks call.\n"
    )

    def fill(folder: Path) -> None:
        shutil.copy2(pdf, folder / "idl_ex3.pdf")
        (folder / "README.txt").write_text(readme)
        (folder / "notebooks").mkdir()
        for i, name in enumerate(NOTEBOOKS):
            executed = paths.report_dir() / "idl_ex3" / f"{name}.ipynb"
            source = executed if executed.exists() else paths.NOTEBOOK_DIR / "idl_ex3" / f"{name}.ipynb"
            shutil.copy2(source, folder / "notebooks" / f"{i}_{name}.ipynb")
        shutil.copytree(model_dir, folder / "models")
        submission._copy_lib(folder / "lib")

    return submission._swap_in_folder(submission.dist_dir() / "idl_ex3", fill)
