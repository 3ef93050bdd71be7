"""Package built reports the way each course wants them submitted.

    python -m lib.submission [nn4i_ex2 ...]

``nn4i_ex2``: ``dist/nn4i_ex2/ex2_<ID>.zip`` holding ``ex2.pdf``, the code (``lib/`` and the
executed notebooks) and a README with the student's name, ID and CSE username, all taken
from ``student.toml``.  Placeholder identity values still build, with a warning.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from lib import build, paths

PLACEHOLDERS = {"Student Name", "name", "sn", "000000000", "username", ""}


def dist_dir() -> Path:
    return Path(os.environ.get("BUNDLE_DIST_DIR", paths.ROOT / "dist"))


def _identity(fields: tuple[str, ...]) -> dict[str, str]:
    student = build.load_student()
    missing = [f for f in fields if student.get(f, "") in PLACEHOLDERS]
    if missing:
        print(
            f"WARNING: student.toml still has placeholder values for {', '.join(missing)}; fix: fill them in before you submit",
            file=sys.stderr,
        )
    return {f: student.get(f, "") for f in fields}


def _require_pdf(assignment: str) -> Path:
    pdf = paths.report_dir() / f"{assignment}.pdf"
    if not pdf.is_file():
        raise build.BuildError(f"{pdf} does not exist; fix: run `make report` first")
    return pdf


def nn4i_ex2() -> Path:
    """``ex2_<ID>.zip``: ex2.pdf, README, the code and the executed notebooks."""
    who = _identity(("name", "student_id", "cse_username"))
    pdf = _require_pdf("nn4i_ex2")
    target = dist_dir() / "nn4i_ex2" / f"ex2_{who['student_id']}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    readme = (
        f"Name: {who['name']}\nID: {who['student_id']}\nCSE username: {who['cse_username']}\n\n"
        "ex2.pdf holds the answers (theory and practical tasks).\n"
        "code/lib/ is the library the notebooks call (data, models, training, caching, plots);\n"
        "code/notebooks/ holds one executed notebook per question. To rebuild everything from the\n"
        "bundle's repository: make report (see its README).\n"
    )
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".zip.tmp")
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(pdf, "ex2.pdf")
        archive.writestr("README", readme)
        for source in sorted(paths.LIB_DIR.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                archive.write(source, f"code/lib/{source.relative_to(paths.LIB_DIR)}")
        for name in build.ASSIGNMENTS["nn4i_ex2"].notebooks:
            executed = paths.report_dir() / "nn4i_ex2" / f"{name}.ipynb"
            archive.write(
                executed if executed.exists() else paths.NOTEBOOK_DIR / "nn4i_ex2" / f"{name}.ipynb",
                f"code/notebooks/{name}.ipynb",
            )
    os.replace(tmp, target)
    return target


PACKAGERS = {"nn4i_ex2": nn4i_ex2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.submission", description="package built reports for submission")
    parser.add_argument("assignment", nargs="*", help=f"one of {sorted(PACKAGERS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignment) - set(PACKAGERS))
    if unknown:
        print(
            f"error: no submission layout for {', '.join(unknown)}; fix: use one of {', '.join(sorted(PACKAGERS))}",
            file=sys.stderr,
        )
        return 1
    try:
        for assignment in args.assignment or list(PACKAGERS):
            print(f"submission: wrote {PACKAGERS[assignment]()}")
    except build.BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
