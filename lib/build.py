"""Build the reports: execute notebooks with papermill, merge them, export one PDF.

    python -m lib.build report [--profile full|quick|smoke] [--assignment ID ...]
                               [--set NOTEBOOK:NAME=VALUE ...] [--force]
    python -m lib.build run nn4i_ex2/q1_autoencoding [--profile quick] [-p NAME=VALUE ...]

A notebook is re-executed only when its inputs changed (the notebook file, its
parameters, the ``lib`` sources); otherwise the executed copy of the previous build is
reused.  Nothing is replaced until it succeeded: a failing notebook stops the build
with its cell's error, and the previous executed notebook and PDF stay as they were.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# jsonschema, which nbformat and papermill import, loads rfc3987_syntax when present; that
# module compiles ~35 Lark grammars at import time (2.3 s in every build process, measured)
# for an IRI format check no notebook schema uses.  A None entry makes that optional import
# fail at once, and jsonschema skips the check (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402

from lib import cpsc663_ex2, html_report, idl_ex3, nn4i_ex2, params, paths  # noqa: E402
from lib.report import GLUE_MIMETYPE, NAME_PATTERN, latex_cell, latex_escape  # noqa: E402

KERNEL_NAME = "mnist-bundle"
STRIPPED_TAGS = {"parameters", "injected-parameters", "remove-cell"}
# Cells whose output (e.g. per-epoch training logs) stays in the executed notebook but not in the PDF.
PDF_HIDDEN_OUTPUT_TAG = "pdf-hide-output"


@dataclass(frozen=True)
class Assignment:
    title: str
    subtitle: str
    notebooks: tuple[str, ...]  # in the order they appear in the PDF
    # The PDF reads like homework: only figures, tables and prose (no printed output, no reprs);
    # figures and tables are numbered and {{...}} placeholders in the prose are filled in (see merge).
    clean_pdf: bool = False
    # False: headings carry the handout's own numbers ("4.2 ..."), so LaTeX adds none.
    numbered_sections: bool = True


ASSIGNMENTS: dict[str, Assignment] = {
    "nn4i_ex2": Assignment(nn4i_ex2.TITLE, nn4i_ex2.SUBTITLE, nn4i_ex2.NOTEBOOKS, clean_pdf=True),
    "idl_ex3": Assignment(idl_ex3.TITLE, idl_ex3.SUBTITLE, idl_ex3.NOTEBOOKS, clean_pdf=True, numbered_sections=False),
    "cpsc663_ex2": Assignment(
        cpsc663_ex2.TITLE, cpsc663_ex2.SUBTITLE, cpsc663_ex2.NOTEBOOKS, clean_pdf=True, numbered_sections=False
    ),
}


class BuildError(RuntimeError):
    """A build step failed; the message is one line naming the thing and the fix."""


@dataclass
class NotebookRun:
    notebook: str
    seconds: float
    status: str  # "executed" or "reused"
    trained: int | None = None
    loaded: int | None = None


def notebook_source(notebook_id: str) -> Path:
    path = paths.NOTEBOOK_DIR / f"{notebook_id}.ipynb"
    if not path.is_file():
        raise BuildError(f"notebook {path} does not exist; fix: use one of {', '.join(all_notebook_ids())}")
    return path


def all_notebook_ids() -> list[str]:
    return [f"{a}/{n}" for a, spec in ASSIGNMENTS.items() for n in spec.notebooks]


def parse_value(text: str) -> Any:
    """Python literal if it parses (``3``, ``1e-3``, ``[2, 4]``, ``True``), else the raw string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise BuildError(
                f"parameter {item!r} is not NAME=VALUE; fix: write e.g. num_epochs=3 "
                "(make splits P and SET at spaces: write lists without them, latent_dims=[2,8])"
            )
        name, value = item.split("=", 1)
        out[name.strip()] = parse_value(value.strip())
    return out


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it (shorter messages)."""
    try:
        return str(path.relative_to(paths.ROOT))
    except ValueError:
        return str(path)


# lib modules no notebook imports: editing them must not re-execute notebooks (the PDF
# template and this module are covered by the PDF's own stamp, see _pdf_key).
NOT_USED_BY_NOTEBOOKS = {"build.py", "submission.py", "bench.py"}


def lib_fingerprint() -> str:
    """The lib sources a notebook's results can depend on."""
    digest = hashlib.sha256()
    for path in sorted(paths.LIB_DIR.rglob("*.py")):
        if path.name in NOT_USED_BY_NOTEBOOKS:
            continue
        digest.update(str(path.relative_to(paths.LIB_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _executed_path(notebook_id: str) -> Path:
    assignment, name = notebook_id.split("/")
    return paths.report_dir() / assignment / f"{name}.ipynb"


def _stamp_path(notebook_id: str) -> Path:
    assignment, name = notebook_id.split("/")
    return paths.report_dir() / assignment / ".stamps" / f"{name}.key"


def _input_key(notebook_id: str, parameters: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(notebook_source(notebook_id).read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    digest.update(lib_fingerprint().encode())
    return digest.hexdigest()


def is_current(notebook_id: str, profile: str, overrides: dict[str, Any]) -> bool:
    """True when the executed notebook on disk came from the same inputs (no need to re-run)."""
    target, stamp = _executed_path(notebook_id), _stamp_path(notebook_id)
    key = _input_key(notebook_id, {"profile": profile, **overrides})
    return target.exists() and stamp.exists() and stamp.read_text().strip() == key


def execute(notebook_id: str, profile: str, overrides: dict[str, Any], force: bool = False) -> NotebookRun:
    """Execute one notebook into the report folder (or reuse an up-to-date execution)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source, target, stamp = notebook_source(notebook_id), _executed_path(notebook_id), _stamp_path(notebook_id)
    check_no_profile_override(notebook_id, overrides)
    parameters = {"profile": profile, **overrides}
    params.check_overrides(notebook_id, parameters)  # unknown names / bad values: stop before any kernel starts
    key = _input_key(notebook_id, parameters)
    if not force and is_current(notebook_id, profile, overrides):
        print(f"build: {notebook_id}: inputs unchanged, reusing {_shown(target)}", flush=True)
        return NotebookRun(notebook_id, 0.0, "reused", *_cache_counts(notebook_id))
    target.parent.mkdir(parents=True, exist_ok=True)
    running = target.with_name(f".{target.stem}.running.ipynb")
    print(f"build: executing {notebook_id} (profile {profile})", flush=True)
    start = time.perf_counter()
    # The notebook writes its metrics and exported models into a staging folder, moved into
    # the report folder only if it succeeds: a failing run leaves the previous files in place.
    staging_root = paths.report_dir() / ".staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{notebook_id.replace('/', '-')}-", dir=staging_root))
    previous_staging = os.environ.get("BUNDLE_STAGING_DIR")
    os.environ["BUNDLE_STAGING_DIR"] = str(staging)  # inherited by the kernel papermill starts
    try:
        papermill.execute_notebook(
            str(source),
            str(running),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(source.parent),
            progress_bar=False,
            log_output=True,
        )
    except PapermillExecutionError as err:
        failed = target.parent / "failed" / target.name
        failed.parent.mkdir(exist_ok=True)
        os.replace(running, failed)
        evalue = str(err.evalue).strip().splitlines()[-1] if str(err.evalue).strip() else ""
        raise BuildError(
            f"notebook {_shown(source)} failed in cell {err.exec_count}: {err.ename}: {evalue} "
            f"(executed copy with the traceback: {failed}; previous outputs and PDF left untouched)"
        ) from None
    except Exception as err:  # kernel died, timeout, missing kernel: one line, nothing replaced
        if running.exists():
            running.unlink()
        raise BuildError(
            f"notebook {_shown(source)} could not be executed: {type(err).__name__}: "
            f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''} (previous outputs and PDF left untouched)"
        ) from None
    except BaseException:
        if running.exists():
            running.unlink()
        raise
    else:
        _promote(staging)
    finally:
        if previous_staging is None:
            os.environ.pop("BUNDLE_STAGING_DIR", None)
        else:
            os.environ["BUNDLE_STAGING_DIR"] = previous_staging
        shutil.rmtree(staging, ignore_errors=True)
    os.replace(running, target)
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(key + "\n")
    return NotebookRun(notebook_id, time.perf_counter() - start, "executed", *_cache_counts(notebook_id))


def _promote(staging: Path) -> None:
    """Move the files a successful notebook wrote from ``staging`` into the report folder."""
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            target = paths.report_dir() / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


def check_no_profile_override(notebook_id: str, overrides: dict[str, Any]) -> None:
    if "profile" in overrides:
        raise BuildError(
            f"{notebook_id}: 'profile' cannot be given as a notebook parameter (it would override the build's "
            f"profile); fix: use --profile {overrides['profile']} (make: PROFILE={overrides['profile']})"
        )


def _cache_counts(notebook_id: str) -> tuple[int | None, int | None]:
    assignment, name = notebook_id.split("/")
    try:
        cache = json.loads(paths.metrics_path(assignment, name).read_text()).get("model_cache", {})
        return cache.get("trained"), cache.get("loaded")
    except (OSError, ValueError):
        return None, None


def load_student() -> dict[str, str]:
    """The student's identity from ``student.toml`` (placeholders are flagged by callers)."""
    path = paths.ROOT / "student.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BuildError(
            f"cannot read {path} ({type(err).__name__}: {err}); fix: save it as UTF-8 TOML (restore it with git if unsure)"
        ) from None
    student = data.get("student", {})
    if not isinstance(student, dict):
        raise BuildError(f'{path}: "student" must be a table ([student] with name = "..." lines); fix: restore it with git')
    return {k: str(v) for k, v in student.items()}


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# What a clean PDF shows of a code cell's outputs: figures, images and tables.  Printed
# output (streams), bare reprs (text/plain, text/html) and glued values are left out.
RENDERED_MIMETYPES = {"application/pdf", "image/png", "image/jpeg", "image/svg+xml", "text/latex", "text/markdown"}
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")


def _glued_values(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The values a notebook glued (lib.report.glue), in cell order: a later value wins."""
    values: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            glued = output.get("data", {}).get(GLUE_MIMETYPE)
            if isinstance(glued, dict):
                values.update({str(k): str(v) for k, v in glued.items()})
    return values


def _clean_outputs(outputs: list) -> list:
    """The outputs a clean PDF shows (figures, images, tables), in order."""
    kept = []
    for output in outputs:
        if output.get("output_type") in ("display_data", "execute_result"):
            data = output.get("data", {})
            if GLUE_MIMETYPE in data or not RENDERED_MIMETYPES & set(data):
                continue
            kept.append(output)
        elif output.get("output_type") == "error":  # cannot happen (a failed notebook stops the build); keep it visible
            kept.append(output)
    return kept


def _is_image(output: dict) -> bool:
    return bool({"application/pdf", "image/png", "image/jpeg", "image/svg+xml"} & set(output.get("data", {})))


def _number_floats(assignment: str, cells: list[tuple[str, nbformat.NotebookNode]]) -> dict[str, dict[str, int]]:
    """Figure and table numbers by key, in order of appearance (the order LaTeX numbers them)."""
    numbers: dict[str, dict[str, int]] = {"figure": {}, "table": {}}
    where: dict[tuple[str, str], str] = {}
    for name, cell in cells:
        for output in cell.get("outputs", []):
            bundle = output.get("metadata", {}).get("bundle", {})
            kind, key = bundle.get("kind"), bundle.get("key")
            if kind not in numbers:
                continue
            if key in numbers[kind]:
                raise BuildError(
                    f"{assignment}: {kind} key '{key}' is used twice ({where[kind, key]} and {name}); "
                    f"fix: give each report.{kind}(...) call in notebooks/{assignment}/ its own key"
                )
            numbers[kind][key] = len(numbers[kind]) + 1
            where[kind, key] = name
    return numbers


def _fill_placeholders(notebook_path: str, text: str, numbers: dict[str, dict[str, int]], glued: dict[str, str]) -> str:
    """``{{fig:KEY}}``/``{{tab:KEY}}`` become the figure/table number, ``{{name}}`` the value the
    notebook glued; anything else stops the build with one line naming the placeholder."""

    def fill(match: re.Match) -> str:
        inner = match.group(1).strip()
        prefix, _, key = inner.partition(":")
        kind = {"fig": "figure", "tab": "table"}.get(prefix) if key else None
        if kind:
            if key in numbers[kind]:
                return str(numbers[kind][key])
            known = ", ".join(numbers[kind]) or "none"
            raise BuildError(
                f"{notebook_path}: placeholder {match.group(0)} names no {kind} (keys: {known}); "
                f"fix: use the key given to report.{kind}(..., key=...) or remove the placeholder"
            )
        if NAME_PATTERN.fullmatch(inner):
            if inner in glued:
                return glued[inner]
            raise BuildError(
                f"{notebook_path}: placeholder {match.group(0)} has no value (this notebook glued: "
                f"{', '.join(glued) or 'nothing'}); fix: call report.glue({inner!r}, value) in one of its code cells"
            )
        raise BuildError(
            f"{notebook_path}: unknown placeholder {match.group(0)}; fix: write {{{{fig:KEY}}}}, {{{{tab:KEY}}}} or "
            "{{name}} of a glued value (LaTeX braces: put a space between them, { {x} })"
        )

    return PLACEHOLDER.sub(fill, text)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _markdown_text(text: str) -> str:
    """Plain text inside Markdown prose: Markdown and TeX specials backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]#|<>$~^&])", r"\\\1", text)


def provenance_cells(assignment: str, profile: str, built: str) -> list[nbformat.NotebookNode]:
    """The appendix at the end of every PDF: what built it, where the seeds are, on what machine."""
    cores = os.cpu_count() or 1
    lines = [
        "# Provenance",
        "",
        f"Every number, figure and table in this document was computed by the code when the document was built, on "
        f"{built}, from source revision `{_git_commit()}`, on {_markdown_text(_cpu_model())} ({cores} "
        f"{'core' if cores == 1 else 'cores'}) with PyTorch {_markdown_text(_package_version('torch'))} in "
        f"{_markdown_text(os.environ.get('BUNDLE_PRECISION', 'float32'))} arithmetic. The settings of each part, its "
        "training seeds among them, and its numbers are also stored, as JSON, beside its executed notebook.",
    ]
    if profile != "full":
        lines += ["", f"This is a `{profile}` build: its models are trained far less than the report's, so its numbers "
                  "are not the report's."]  # fmt: skip
    return [
        # Figures and tables still waiting for room are placed before the appendix starts.
        nbformat.v4.new_raw_cell("\\FloatBarrier\n\\appendix", metadata={"raw_mimetype": "text/latex"}),
        nbformat.v4.new_markdown_cell("\n".join(lines)),
    ]


def merge(assignment: str, profile: str) -> nbformat.NotebookNode:
    """One notebook of the assignment's executed notebooks, parameter cells removed, with the
    provenance appendix at the end.  For a clean assignment (``clean_pdf``) only figures,
    images and tables stay of the outputs, and the placeholders in the markdown cells are
    filled in: ``{{fig:KEY}}`` and ``{{tab:KEY}}`` with the number of that figure or table
    (in order of appearance), ``{{name}}`` with the value the same notebook glued."""
    spec = ASSIGNMENTS[assignment]
    student = load_student()
    built = date.today().isoformat()
    merged = nbformat.v4.new_notebook()
    merged.metadata.update(
        {
            "title": spec.title,
            "subtitle": spec.subtitle,
            "authors": [{"name": student.get("name", "")}],
            "date": built,
            "kernelspec": {"name": KERNEL_NAME, "display_name": "Python (mnist-bundle)", "language": "python"},
            "language_info": {"name": "python"},
            "path": str(paths.report_dir() / assignment),
        }
    )
    cells: list[tuple[str, nbformat.NotebookNode]] = []  # (notebook name, cell)
    if not spec.numbered_sections:
        cells.append(("", nbformat.v4.new_raw_cell("\\setcounter{secnumdepth}{0}", metadata={"raw_mimetype": "text/latex"})))
    glued: dict[str, dict[str, str]] = {}
    for i, name in enumerate(spec.notebooks):
        executed = _executed_path(f"{assignment}/{name}")
        notebook = nbformat.read(executed, as_version=4)
        glued[name] = _glued_values(notebook)
        if i:  # each notebook starts a page; a clean one only after the previous one's floats (no half-empty pages)
            page = "\\FloatBarrier\n\\bigskip" if spec.clean_pdf else "\\newpage"
            cells.append((name, nbformat.v4.new_raw_cell(page, metadata={"raw_mimetype": "text/latex"})))
        for cell in notebook.cells:
            if STRIPPED_TAGS & set(cell.get("metadata", {}).get("tags", [])):
                continue
            cell = nbformat.from_dict(dict(cell))
            cell["id"] = f"{name}-{len(cells)}"  # fresh, unique ids across notebooks
            if PDF_HIDDEN_OUTPUT_TAG in cell.get("metadata", {}).get("tags", []):
                cell["outputs"] = []
            elif spec.clean_pdf and cell.cell_type == "code":
                cell["outputs"] = _clean_outputs(cell.get("outputs", []))
                uncaptioned = [o for o in cell.outputs if _is_image(o) and "bundle" not in o.get("metadata", {})]
                if uncaptioned:
                    print(
                        f"build: warning: {assignment}/{name} shows {len(uncaptioned)} figure(s) without a number or caption "
                        "(plt.show or display); fix: show them with lib.report.figure(fig, key=..., caption=...)",
                        flush=True,
                    )
            cells.append((name, cell))
    if spec.clean_pdf:
        numbers = _number_floats(assignment, cells)
        for _, cell in cells:  # the HTML page prints the numbers LaTeX gives the floats
            for output in cell.get("outputs", []):
                bundle = output.get("metadata", {}).get("bundle", {})
                if bundle.get("kind") in numbers and bundle.get("key") in numbers[bundle["kind"]]:
                    bundle["number"] = numbers[bundle["kind"]][bundle["key"]]
        for name, cell in cells:
            if cell.cell_type == "markdown":
                where = _shown(paths.NOTEBOOK_DIR / assignment / f"{name}.ipynb")
                cell.source = _fill_placeholders(where, cell.source, numbers, glued[name])
    merged.cells = [cell for _, cell in cells] + provenance_cells(assignment, profile, built)
    nbformat.validate(merged)
    return merged


def export_pdf(notebook: nbformat.NotebookNode, target: Path) -> None:
    """LaTeX via nbconvert (code hidden), then two XeLaTeX passes; atomic replace of ``target``."""
    from nbconvert import LatexExporter
    from traitlets.config import Config

    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    exporter = LatexExporter(config=config, template_file=str(paths.TEMPLATE_DIR / "bundle.tex.j2"))
    exporter.register_filter("latex_literal", lambda text: latex_escape(text, literal=True))  # names, as written
    exporter.register_filter("latex_cell", latex_cell)  # captions: text escaped, $...$ kept as math
    resources = {"metadata": {"name": target.stem, "path": notebook.metadata.get("path", ".")}}
    resources["bundle_cjk"] = cjk_fonts(notebook, target.name)
    body, resources = exporter.from_notebook_node(notebook, resources=resources)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "report.tex").write_text(body)
        for name, data in resources.get("outputs", {}).items():
            (tmpdir / name).parent.mkdir(parents=True, exist_ok=True)
            (tmpdir / name).write_bytes(data)
        for _ in range(2):  # the second pass fills in the table of contents
            run = subprocess.run(
                ["xelatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                cwd=tmpdir,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=600,
            )
            if run.returncode != 0:
                errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
                keep = target.parent / f"{target.stem}.failed.tex"
                shutil.copy(tmpdir / "report.tex", keep)
                first = errors[0] if errors else "see the log"
                raise BuildError(f"xelatex failed for {target.name}: {first} (LaTeX kept at {keep}; previous PDF untouched)")
        log = (tmpdir / "report.log").read_text(errors="replace")
        missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
        if missing:
            raise BuildError(f"fonts lack glyphs {' '.join(missing)} in {target.name}; fix: write them as LaTeX math or ASCII")
        paths.atomic_write(target, lambda staged: shutil.copy(tmpdir / "report.pdf", staged))


# Chinese, Japanese and Korean script (what xeCJK typesets with a CJK font).
CJK_CHARS = re.compile(
    "[\u2e80-\u2fdf\u2ff0-\u303f\u3040-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7af"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)
CJK_FONTS = {  # xeCJK's fonts, first found wins (Debian/Ubuntu: fonts-noto-cjk)
    "main": ("Noto Serif CJK SC", "Noto Sans CJK SC"),
    "sans": ("Noto Sans CJK SC",),
    "mono": ("Noto Sans Mono CJK SC", "Noto Sans CJK SC"),
}


def _rendered_text(notebook: nbformat.NotebookNode) -> str:
    """The text of what the PDF shows (code is hidden): title page, prose, outputs' text."""
    meta = notebook.metadata
    parts = [str(meta.get(k, "")) for k in ("title", "subtitle", "date")]
    parts += [str(author.get("name", "")) for author in meta.get("authors", [])]
    for cell in notebook.cells:
        if cell.cell_type != "code":
            parts.append(cell.source)
            continue
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts += [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
            parts.append(str(output.get("metadata", {}).get("bundle", {}).get("caption", "")))
            parts += [str(line) for line in output.get("traceback", [])]
    return "\n".join(parts)


def cjk_fonts(notebook: nbformat.NotebookNode, name: str) -> dict[str, str] | None:
    """xeCJK's fonts when the PDF shows Chinese, Japanese or Korean characters (else None:
    without them xeCJK is not loaded at all); a one-line BuildError when xeCJK or the fonts are missing."""
    found = CJK_CHARS.search(_rendered_text(notebook))
    if not found:
        return None
    what = f"{name} shows CJK characters (e.g. {found.group(0)!r})"
    kpsewhich = shutil.which("kpsewhich")
    has_xecjk = kpsewhich and subprocess.run([kpsewhich, "xeCJK.sty"], capture_output=True, text=True).stdout.strip()
    if not has_xecjk:
        raise BuildError(
            f"{what} but the LaTeX package xeCJK is missing; fix: install texlive-lang-chinese "
            "(Debian/Ubuntu: sudo apt-get install texlive-lang-chinese; TeX Live: tlmgr install xecjk)"
        )
    fc_list = shutil.which("fc-list")
    listed = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True).stdout if fc_list else ""
    families = {family.strip() for line in listed.splitlines() for family in line.split(",")}
    fonts = {role: next((f for f in choices if f in families), None) for role, choices in CJK_FONTS.items()}
    if fonts["main"] is None:
        raise BuildError(
            f"{what} but no CJK font was found (fc-list lists no {' or '.join(CJK_FONTS['main'])}); "
            "fix: install fonts-noto-cjk (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; elsewhere the Noto CJK fonts)"
        )
    return {role: font or fonts["main"] for role, font in fonts.items()}


def check_tools() -> None:
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        raise BuildError(
            f"{' and '.join(missing)} not found; fix: install texlive-xetex texlive-fonts-recommended "
            "texlive-plain-generic pandoc (Debian/Ubuntu: sudo apt-get install ...; macOS: MacTeX + brew install pandoc)"
        )


def _stop_children(children: set[subprocess.Popen], grace_seconds: float = 20.0) -> None:
    """Let running child builds exit on the Ctrl-C they already got from the terminal; send
    one to those that did not (the parent alone was interrupted); kill what still runs."""
    for stop in (lambda child: child.send_signal(signal.SIGINT), lambda child: child.kill()):
        deadline = time.monotonic() + grace_seconds / 2
        while any(child.poll() is None for child in list(children)) and time.monotonic() < deadline:
            time.sleep(0.2)
        for child in list(children):
            if child.poll() is None:
                stop(child)


def _print_table(runs: list[NotebookRun], pdf_seconds: dict[str, float], pdf_status: dict[str, str], total: float) -> None:
    print("\nbuild times")
    print(f"{'notebook':40s} {'seconds':>8s}  {'status':9s} {'models trained/loaded':>22s}")
    for run in runs:
        counts = "-" if run.trained is None else f"{run.trained}/{run.loaded}"
        print(f"{run.notebook:40s} {run.seconds:8.1f}  {run.status:9s} {counts:>22s}")
    for assignment, seconds in pdf_seconds.items():
        print(f"{assignment + '.pdf':40s} {seconds:8.1f}  {pdf_status[assignment]:9s}")
    print(f"{'total':40s} {total:8.1f}")


def _pdf_key(assignment: str, profile: str) -> str:
    """What a PDF is made of: the executed notebooks, the template, the student's identity,
    the assignment's title and order, and this module (merge and export).  An unchanged key
    means the PDF on disk is current and is not rebuilt."""
    digest = hashlib.sha256(repr((profile, ASSIGNMENTS[assignment])).encode())
    sources = [_executed_path(f"{assignment}/{name}") for name in ASSIGNMENTS[assignment].notebooks]
    sources += sorted(p for p in paths.TEMPLATE_DIR.rglob("*") if p.is_file()) + [
        paths.ROOT / "student.toml",
        Path(__file__),
        paths.LIB_DIR / "report.py",
        paths.LIB_DIR / "html_report.py",
    ]
    for source in sources:
        digest.update(source.read_bytes() if source.exists() else b"missing")
    return digest.hexdigest()


def _write_notebook_atomically(notebook: nbformat.NotebookNode, target: Path) -> None:
    paths.atomic_write(target, lambda tmp: nbformat.write(notebook, tmp))


def _available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_jobs() -> int:
    """Notebooks executed side by side: one per core, each with one compute thread,
    because these small convolutions scale poorly with threads (measured on this 2-core
    machine: two 1-thread trainings do 1.23x the images per second of one 2-thread one)."""
    return _available_cores()


# Longest first (full profile), so the two workers finish together; the rest follow in report order.
HEAVY_FIRST = (
    "nn4i_ex2/q4_transfer",
    "nn4i_ex2/q1_autoencoding",
    "nn4i_ex2/q3_decorrelation",
    "cpsc663_ex2/p6_conv_autoencoders",
    "cpsc663_ex2/p4_cnn",
    "idl_ex3/p1_transfer",
    "cpsc663_ex2/p5_autoencoders",
)


def _build_pdf(assignment: str, profile: str, force: bool) -> tuple[float, str]:
    pdf_start = time.perf_counter()
    target, page = paths.report_dir() / f"{assignment}.pdf", paths.report_dir() / f"{assignment}.html"
    stamp, key = paths.report_dir() / assignment / ".pdf-stamp", _pdf_key(assignment, profile)
    if force or not target.exists() or not page.exists() or not stamp.exists() or stamp.read_text() != key:
        merged = merge(assignment, profile)
        _write_notebook_atomically(merged, paths.report_dir() / f"{assignment}.ipynb")  # one notebook for graders
        export_pdf(merged, target)
        size = html_report.export_html(merged, page)
        stamp.write_text(key)
        status = "built"
        print(f"build: wrote {target} and {page.name} ({size / 1e6:.1f} MB)", flush=True)
    else:
        status = "reused"
        print(f"build: {target} is up to date", flush=True)
    return time.perf_counter() - pdf_start, status


def _execute_in_child(
    notebook_id: str,
    profile: str,
    overrides: dict[str, Any],
    force: bool,
    threads: int,
    print_lock: threading.Lock,
    children: set[subprocess.Popen] | None = None,
) -> NotebookRun | str:
    """Execute one notebook in its own process with ``threads`` compute threads, its output
    prefixed with the notebook's name; when it fails, its one-line error instead.  The
    running process is kept in ``children`` so that an interrupted build can stop it."""
    with tempfile.TemporaryDirectory() as tmp:
        run_file = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "lib.build", "execute", notebook_id, "--profile", profile]
        command += ["--overrides-json", json.dumps(overrides), "--run-file", str(run_file)] + (["--force"] if force else [])
        env = dict(os.environ)
        for name in ("BUNDLE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
        with subprocess.Popen(
            command, cwd=paths.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as child:
            assert child.stdout is not None
            if children is not None:
                children.add(child)
            error = f"notebook {notebook_id} failed (see the lines prefixed [{notebook_id}] above)"
            try:
                for line in child.stdout:
                    if line.startswith("error: "):
                        error = line.removeprefix("error: ").strip()
                    with print_lock:
                        print(f"[{notebook_id}] {line}", end="", flush=True)
            finally:
                if children is not None:
                    children.discard(child)
        if child.returncode != 0:
            return error
        return NotebookRun(**json.loads(run_file.read_text()))


def report(
    assignments: list[str],
    profile: str,
    settings: dict[str, dict[str, Any]],
    force: bool = False,
    jobs: int | None = None,
) -> list[Path]:
    """Execute the assignments' notebooks and build their PDFs.

    With ``jobs > 1`` the notebooks that need executing run side by side in child
    processes, the cores split between them; a model two of them need is trained once
    (the cache locks each entry, the second waits and loads it).  Each PDF is built as
    soon as its assignment's notebooks are done."""
    check_tools()
    for notebook_id in settings:
        if notebook_id not in all_notebook_ids():
            raise BuildError(f"--set names unknown notebook '{notebook_id}'; fix: use one of {', '.join(all_notebook_ids())}")
    for notebook_id, overrides in settings.items():  # validate everything before running anything
        if notebook_id.split("/")[0] not in assignments:
            raise BuildError(
                f"--set names {notebook_id}, which this build does not run (assignments: {', '.join(assignments)}); "
                f"fix: add --assignment {notebook_id.split('/')[0]} (make: ASSIGNMENT=...) or drop the setting"
            )
        check_no_profile_override(notebook_id, overrides)
        params.check_overrides(notebook_id, {"profile": profile, **overrides})
    start = time.perf_counter()
    notebooks = {a: [f"{a}/{name}" for name in ASSIGNMENTS[a].notebooks] for a in assignments}
    runs: dict[str, NotebookRun] = {}
    stale = []
    for notebook_id in [nb for nbs in notebooks.values() for nb in nbs]:
        if not force and is_current(notebook_id, profile, settings.get(notebook_id, {})):
            print(f"build: {notebook_id}: inputs unchanged, reusing {_shown(_executed_path(notebook_id))}", flush=True)
            runs[notebook_id] = NotebookRun(notebook_id, 0.0, "reused", *_cache_counts(notebook_id))
        else:
            stale.append(notebook_id)
    jobs = max(1, min(default_jobs() if jobs is None else jobs, len(stale) or 1))
    failed: dict[str, str] = {}  # assignment -> the error of its failed notebook
    pdf_seconds, pdf_status = {}, {}

    def finish(assignment: str) -> None:
        if assignment not in failed and all(nb in runs for nb in notebooks[assignment]) and assignment not in pdf_status:
            pdf_seconds[assignment], pdf_status[assignment] = _build_pdf(assignment, profile, force)

    for assignment in assignments:  # nothing to execute: the PDF may still need (re)building
        finish(assignment)
    if jobs == 1:
        for notebook_id in stale:
            runs[notebook_id] = execute(notebook_id, profile, settings.get(notebook_id, {}), force=True)
            finish(notebook_id.split("/")[0])
    elif stale:
        order = sorted(stale, key=lambda nb: HEAVY_FIRST.index(nb) if nb in HEAVY_FIRST else len(HEAVY_FIRST))
        threads = max(1, _available_cores() // jobs)
        print(f"build: executing {len(order)} notebooks, {jobs} at a time with {threads} thread(s) each", flush=True)
        lock, interrupted = threading.Lock(), threading.Event()
        children: set[subprocess.Popen] = set()

        def work(notebook_id: str) -> NotebookRun | str | None:
            if interrupted.is_set() or notebook_id.split("/")[0] in failed:  # skip: interrupted, or its PDF is off
                return None
            return _execute_in_child(notebook_id, profile, settings.get(notebook_id, {}), True, threads, lock, children)

        pool = ThreadPoolExecutor(jobs)
        try:
            futures = {pool.submit(work, nb): nb for nb in order}
            for future in as_completed(futures):
                notebook_id = futures[future]
                assignment = notebook_id.split("/")[0]
                run = future.result()
                if run is None:  # skipped
                    continue
                if isinstance(run, str):
                    failed.setdefault(assignment, run)
                    continue
                runs[notebook_id] = run
                finish(assignment)  # only this thread builds PDFs
        except KeyboardInterrupt:
            # Ctrl-C: start nothing more and stop the running notebooks (each discards its
            # partial output) before reporting; without this the pool would run the queue.
            interrupted.set()
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_children(children)
            raise
        pool.shutdown()
    total = time.perf_counter() - start
    ordered = [runs[nb] for nbs in notebooks.values() for nb in nbs if nb in runs]
    _print_table(ordered, pdf_seconds, pdf_status, total)
    times = {
        "profile": profile,
        "jobs": jobs,
        "total_seconds": total,
        "notebooks": [vars(r) for r in ordered],
        "pdf_seconds": pdf_seconds,
        "pdf_status": pdf_status,
    }
    (paths.report_dir() / "build-times.json").write_text(json.dumps(times, indent=2) + "\n")
    html_report.write_index(ASSIGNMENTS)
    if failed:  # the first failure of each assignment, one line (the others' PDFs were built)
        raise BuildError("; ".join(failed.values()))
    return [paths.report_dir() / f"{a}.pdf" for a in assignments]


def _quiet_papermill(record: logging.LogRecord) -> bool:
    """Keep the notebooks' printed output in the build log, drop papermill's cell markers."""
    message = record.getMessage()
    return bool(message.strip()) and not message.startswith(
        ("Executing Cell", "Ending Cell", "Executing notebook", "Input Notebook", "Output Notebook", "Working directory")
    )


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1 (e.g. --jobs 2)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.build", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="execute notebooks and build the PDFs")
    rep.add_argument("--profile", default="full")
    rep.add_argument("--assignment", action="append", choices=sorted(ASSIGNMENTS))
    rep.add_argument("--set", action="append", default=[], metavar="NOTEBOOK:NAME=VALUE")
    rep.add_argument("--force", action="store_true", help="re-execute even if inputs are unchanged")
    rep.add_argument("--jobs", type=_positive_int, default=None, help="notebooks executed side by side (default: one per core)")
    child = sub.add_parser("execute")  # internal: one notebook for a parallel build, result in --run-file
    child.add_argument("notebook")
    child.add_argument("--profile", default="full")
    child.add_argument("--overrides-json", default="{}")
    child.add_argument("--run-file", type=Path, required=True)
    child.add_argument("--force", action="store_true")
    one = sub.add_parser("run", help="execute one notebook into the report folder")
    one.add_argument("notebook", help="e.g. nn4i_ex2/q1_autoencoding")
    one.add_argument("--profile", default="full")
    one.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("papermill").addFilter(_quiet_papermill)
    for noisy in ("traitlets", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        params.check_common("build", args.profile, "auto")
        paths.check_written_dirs()
        if args.command == "execute":
            run = execute(args.notebook, args.profile, json.loads(args.overrides_json), force=args.force)
            args.run_file.write_text(json.dumps(vars(run)))
        elif args.command == "run":
            run = execute(args.notebook, args.profile, parse_assignments(args.param), force=True)
            print(f"build: {run.notebook} executed in {run.seconds:.1f} s -> {_executed_path(run.notebook)}")
        else:
            settings: dict[str, dict[str, Any]] = {}
            for item in args.set:
                if ":" not in item:
                    raise BuildError(
                        f"--set {item!r} does not name a notebook; fix: write NOTEBOOK:NAME=VALUE, "
                        "e.g. --set nn4i_ex2/q1_autoencoding:num_epochs=3"
                    )
                notebook_id, _, setting = item.partition(":")
                settings.setdefault(notebook_id, {}).update(parse_assignments([setting]))
            report(args.assignment or list(ASSIGNMENTS), args.profile, settings, args.force, args.jobs)
    except (BuildError, params.ParameterError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. a folder that cannot be written: one line, not a traceback
        print(
            f"error: {err.strerror or err}: {err.filename or ''}; fix: check that folder's permissions and free space",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; previous outputs left untouched", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
