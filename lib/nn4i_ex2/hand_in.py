"""nn4i_ex2's submission: ``dist/nn4i_ex2/ex2_<ID>.zip`` with ``ex2.pdf``, a README naming
the student, the code (``code/lib/``) and the executed notebooks (``code/notebooks/``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from lib import build, paths, submission
from lib.nn4i_ex2 import NOTEBOOKS


def package() -> Path:
    """``ex2_<ID>.zip``: ex2.pdf, README, the code and the executed notebooks."""
    who = submission._identity(("name", "student_id", "cse_username"))
    pdf = submission._require_pdf("nn4i_ex2")
    student_id = submission._file_part(who["student_id"], "student_id")
    if student_id != who["student_id"]:
        raise build.BuildError(
            f"student.toml: student_id = {who['student_id']!r} names the zip, so it may hold only letters, digits, "
            "'-' and '_'; fix: write the ID as the course lists it"
        )
    target = submission.dist_dir() / "nn4i_ex2" / f"ex2_{student_id}.zip"
    readme = (
        f"Name: {who['name']}\nID: {who['student_id']}\nCSE username: {who['cse_username']}\n\n"
        "ex2.pdf holds the answers (theory and practical tasks).\n"
        "code/lib/ is the library the notebooks call (data, models, training, caching, plots);\n"
        "code/notebooks/ holds one executed notebook per question. To rebuild everything from the\n"
        "bundle's repository: make report (see its README).\n"
    )

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(pdf, "ex2.pdf")
            archive.writestr("README", readme)
            for source in sorted(paths.LIB_DIR.rglob("*")):
                if source.is_file() and "__pycache__" not in source.parts:
                    archive.write(source, f"code/lib/{source.relative_to(paths.LIB_DIR)}")
            for name in NOTEBOOKS:
                executed = paths.report_dir() / "nn4i_ex2" / f"{name}.ipynb"
                archive.write(
                    executed if executed.exists() else paths.NOTEBOOK_DIR / "nn4i_ex2" / f"{name}.ipynb",
                    f"code/notebooks/{name}.ipynb",
                )

    paths.atomic_write(target, write)
    return target
