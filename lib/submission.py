"""Package built reports the way each course wants them submitted.

    python -m lib.submission [nn4i_ex2 ...]

``nn4i_ex2``: ``dist/nn4i_ex2/ex2_<ID>.zip`` holding ``ex2.pdf``, the code (``lib/`` and the
executed notebooks) and a README with the student's name, ID and CSE username.

``cpsc663_ex2``: the folder ``dist/cpsc663_ex2/`` with every file at its top level, as
Gradescope wants them (see :mod:`lib.cpsc663_ex2.hand_in`): the PDF, the three stand-alone
scripts, the trained models and the merged notebook; no ``lib/``.

Identity values come from ``student.toml``; placeholders still build, with a warning.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

from lib import build, paths

PLACEHOLDERS = {"Student Name", "name", "sn", "000000000", "username", ""}


def dist_dir() -> Path:
    return Path(os.environ.get("BUNDLE_DIST_DIR", paths.ROOT / "dist"))


def _identity(fields: tuple[str, ...]) -> dict[str, str]:
    student = build.load_student()
    absent = [f for f in fields if f not in student]
    if absent:
        raise build.BuildError(
            f'student.toml lacks {", ".join(absent)}; fix: add {absent[0]} = "..." under [student] (see the committed file)'
        )
    missing = [f for f in fields if student.get(f, "") in PLACEHOLDERS]
    if missing:
        print(
            f"WARNING: student.toml still has placeholder values for {', '.join(missing)}; fix: fill them in before you submit",
            file=sys.stderr,
        )
    return {f: student.get(f, "") for f in fields}


def _file_part(value: str, field: str) -> str:
    """``value`` as part of a file name: accents dropped (Öztürk -> Ozturk), letters, digits,
    '-' and '_' kept.  A value with nothing usable left is an error, not an empty name."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    part = re.sub(r"[^A-Za-z0-9_-]", "", ascii_text)
    if not part:
        raise build.BuildError(f"student.toml: {field} = {value!r} has no letters or digits to name a file; fix: fill it in")
    return part


def _require_pdf(assignment: str) -> Path:
    pdf = paths.report_dir() / f"{assignment}.pdf"
    if not pdf.is_file():
        raise build.BuildError(f"{pdf} does not exist; fix: run `make report` first")
    return pdf


def _copy_lib(target: Path) -> None:
    shutil.copytree(paths.LIB_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _swap_in_folder(target: Path, fill) -> Path:
    """Build ``target`` in a temporary sibling folder with ``fill(folder)``, then swap it in:
    a failure leaves the previous folder intact."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        fill(staging)
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def nn4i_ex2() -> Path:
    """nn4i_ex2's zip; the layout lives in its assignment package."""
    from lib.nn4i_ex2 import hand_in

    return hand_in.package()


def cpsc663_ex2() -> Path:
    """cpsc663_ex2's Gradescope folder; the layout lives in its assignment package."""
    from lib.cpsc663_ex2 import hand_in

    return hand_in.package()


def idl_ex3() -> Path:
    """idl_ex3's folder; the layout lives in its assignment package."""
    from lib.idl_ex3 import hand_in

    return hand_in.package()


PACKAGERS = {"nn4i_ex2": nn4i_ex2, "cpsc663_ex2": cpsc663_ex2, "idl_ex3": idl_ex3}


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
    failed = 0
    for assignment in args.assignment or list(PACKAGERS):  # one missing report does not block the others
        try:
            print(f"submission: wrote {PACKAGERS[assignment]()}")
        except build.BuildError as err:
            print(f"error: {assignment}: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
