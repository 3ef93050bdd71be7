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
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

# jsonschema, which nbformat and papermill import, loads rfc3987_syntax when present; that
# module compiles ~35 Lark grammars at import time (2.3 s in every build process, measured)
# for an IRI format check no notebook schema uses.  A None entry makes that optional import
# fail at once, and jsonschema skips the check (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402

from lib import allocator, cpsc663_ex2, html_report, idl_ex3, nn4i_ex2, params, paths, schedule  # noqa: E402
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
# template and this module are covered by the PDF's own stamp, see _pdf_key; the targets
# modules tell the build which models to train first, which changes no result).
NOT_USED_BY_NOTEBOOKS = {"build.py", "submission.py", "bench.py", "targets.py"}


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
    # The training precision setting: a notebook's results depend on it (lib.precision).
    digest.update(os.environ.get("BUNDLE_PRECISION", "auto").strip().encode())
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
    previous = {name: os.environ.get(name) for name in ("BUNDLE_STAGING_DIR", "PYTHONPATH")}
    os.environ["BUNDLE_STAGING_DIR"] = str(staging)  # inherited by the kernel papermill starts
    # The kernel must import this checkout's lib, the one hashed into the input key, not
    # whichever checkout the environment was installed from (editable install, worktrees).
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.ROOT), previous["PYTHONPATH"]]))
    try:
        papermill.execute_notebook(
            str(source),
            str(running),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(source.parent),
            progress_bar=False,
            log_output=True,
            # The kernel's own log (e.g. "Kernel is running over TCP without encryption", true
            # of every local kernel) is noise in a build log; its errors still show.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
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
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
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


def _precision_sentence(assignment: str) -> str:
    """How the models this assignment's notebooks used were trained, from their metrics files."""
    used: dict[str, set[str]] = {}
    for name in ASSIGNMENTS[assignment].notebooks:
        try:
            cache = json.loads(paths.metrics_path(assignment, name).read_text()).get("model_cache", {})
        except (OSError, ValueError):
            continue
        for precision, labels in cache.get("precisions", {}).items():
            used.setdefault(precision, set()).update(labels)
    total = sum(len(labels) for labels in used.values())
    if not total:
        return "It uses no trained model."
    # a cache entry labelled "set of ..." holds several models trained one after another
    sets = (
        " (a set of classifiers trained together counts once)"
        if any(label.startswith("set of ") for labels in used.values() for label in labels)
        else ""
    )
    fast = {p: labels for p, labels in used.items() if p != "float32"}
    if not fast:
        return f"Its {total} trained models{sets} were trained in float32 arithmetic."
    precisions = " and ".join(sorted(fast))
    count = sum(len(labels) for labels in fast.values())
    which = f"All {total} of them were" if count == total else f"{count} of them were"
    sentence = (
        f"The document uses {total} trained models{sets}. {which} trained with {precisions} arithmetic in the forward pass "
        "(automatic mixed precision: the weights stay in float32, and every measurement is computed in float32)."
    )
    kept = used.get("float32", set())
    if not kept:
        return sentence
    kinds = sorted({" ".join(re.sub(r"seed=\d+|\w*\[[^\]]*\]", "", label).split()) for label in kept})
    kinds_text = _markdown_text(", ".join(kinds))
    return sentence + f" The other {len(kept)} were trained in float32, as their recipes ask: {kinds_text}."


def provenance_cells(assignment: str, profile: str, built: str) -> list[nbformat.NotebookNode]:
    """The appendix at the end of every PDF: what built it, where the seeds are, on what machine."""
    cores = os.cpu_count() or 1
    lines = [
        "# Provenance",
        "",
        f"Every number, figure and table in this document was computed by the code when the document was built, on "
        f"{built}, from source revision `{_git_commit()}`, on {_markdown_text(_cpu_model())} ({cores} "
        f"{'core' if cores == 1 else 'cores'}) with PyTorch {_markdown_text(_package_version('torch'))}. "
        f"{_precision_sentence(assignment)} The settings of each part, its training seeds among them, and its numbers "
        "are also stored, as JSON, beside its executed notebook.",
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
    """Jobs (model trainings, notebooks) run side by side: one per core, each with one compute
    thread, because these small convolutions scale poorly with threads (measured on this
    2-core machine: two 1-thread trainings do 1.23x the images per second of one 2-thread one)."""
    return _available_cores()


@dataclass(frozen=True)
class ModelJob:
    """A model the build trains before the notebooks that need it start."""

    key: str  # its cache entry's name
    label: str
    estimate: float  # expected seconds
    needs: tuple[str, ...]  # keys of the models its training loads
    notebook: str  # a notebook that declares it (the child process finds it there again)
    group: str  # "" on a CPU; the device's name when it trains on a GPU (they take turns)


def _targets_module(assignment: str):
    import importlib.util

    name = f"lib.{assignment}.targets"
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def _notebook_targets(notebook_id: str, profile: str, overrides: dict[str, Any]):
    """The model targets notebook ``notebook_id`` declares under these settings, and its device."""
    from lib.utils import pick_device

    assignment, name = notebook_id.split("/")
    module, settings = _targets_module(assignment), params.settings_for(notebook_id)
    if module is None or settings is None:
        return [], None
    cfg = settings.check(notebook_id, {"profile": profile, **overrides})
    return module.model_targets(name, cfg), pick_device(cfg.device)


def plan_models(
    stale: list[str], profile: str, settings: dict[str, dict[str, Any]]
) -> tuple[dict[str, ModelJob], dict[str, list[str]]]:
    """The models the ``stale`` notebooks need that the cache lacks, each once (by cache key),
    and for every notebook the keys of those it waits for."""
    from lib import cache

    jobs: dict[str, ModelJob] = {}
    waits: dict[str, list[str]] = {}
    for notebook_id in stale:
        targets, device = _notebook_targets(notebook_id, profile, settings.get(notebook_id, {}))

        def visit(target, notebook_id=notebook_id, device=device) -> str | None:
            path, label = cache.planned_entry(lambda: target.fetch(device))
            if path.exists():
                return None
            if path.stem not in jobs:
                needs = tuple(key for key in (visit(need) for need in target.needs) if key)
                group = "" if device.type == "cpu" else str(device)
                jobs[path.stem] = ModelJob(path.stem, label, target.estimate, needs, notebook_id, group)
            return path.stem

        waits[notebook_id] = list(dict.fromkeys(key for key in (visit(t) for t in targets) if key))
    return jobs, waits


def train_model(notebook_id: str, key: str, profile: str, overrides: dict[str, Any]) -> None:
    """Train (or load) the model with cache key ``key`` that notebook ``notebook_id`` declares."""
    from lib import cache
    from lib.utils import configure_threads

    configure_threads()
    targets, device = _notebook_targets(notebook_id, profile, overrides)
    todo = list(targets)
    while todo:
        target = todo.pop()
        path, label = cache.planned_entry(lambda target=target: target.fetch(device))
        if path.stem == key:
            target.fetch(device)
            if not path.exists():
                raise BuildError(f"model {label} was trained but not stored in {_shown(path)}; fix: check that folder")
            return
        todo += target.needs
    raise BuildError(f"{notebook_id} declares no model with cache key {key}; fix: run the build again (the code changed)")


# A notebook's seconds when neither a previous build nor its assignment says (see _notebook_estimate).
NOTEBOOK_ESTIMATES = {"full": 60.0, "quick": 20.0, "smoke": 10.0}
PDF_JOB = "pdf "  # prefix of the PDF jobs in the replay and the table


def _notebook_estimate(notebook_id: str, profile: str) -> float:
    """A first guess of a notebook's own seconds: its assignment's declared full-profile time
    (``NOTEBOOK_SECONDS`` in its targets module), else the profile's default."""
    assignment, name = notebook_id.split("/")
    module = _targets_module(assignment) if profile == "full" else None
    declared = getattr(module, "NOTEBOOK_SECONDS", {}).get(name) if module is not None else None
    return float(declared) if declared is not None else NOTEBOOK_ESTIMATES[profile]


def _previous_times(profile: str) -> dict[str, float]:
    """Seconds each job took in the previous build of ``profile`` (by notebook id or model label)."""
    try:
        times = json.loads((paths.report_dir() / "build-times.json").read_text())
    except (OSError, ValueError):
        return {}
    known = times.get("known_seconds") if isinstance(times, dict) and times.get("profile") == profile else None
    if not isinstance(known, dict):  # another profile, or a file from before jobs were timed one by one
        return {}
    return {str(name): float(seconds) for name, seconds in known.items() if isinstance(seconds, int | float)}


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
        print(f"build: wrote {_shown(target)} and {page.name} ({size / 1e6:.1f} MB)", flush=True)
    else:
        status = "reused"
        print(f"build: {_shown(target)} is up to date", flush=True)
    return time.perf_counter() - pdf_start, status


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("BUNDLE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    return env


def _run_child(
    command: list[str], prefix: str, threads: int, print_lock: threading.Lock, children: set[subprocess.Popen], error: str
) -> str | None:
    """Run ``python -m lib.build ...command`` with ``threads`` compute threads, its output
    prefixed with ``[prefix]``; None when it succeeded, else its one-line error."""
    with subprocess.Popen(
        [sys.executable, "-m", "lib.build", *command],
        cwd=paths.ROOT,
        env=_child_env(threads),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as child:
        assert child.stdout is not None
        children.add(child)
        try:
            for line in child.stdout:
                if line.startswith("error: "):
                    error = line.removeprefix("error: ").strip()
                with print_lock:
                    print(f"[{prefix}] {line}", end="", flush=True)
        finally:
            children.discard(child)
    return None if child.returncode == 0 else error


# A model worker's reply to a request: the end of one model's output.
WORKER_REPLY = "\x1ebuild-worker:"


class _ModelWorker:
    """A child process that trains the models it is sent one after another: torch, the data
    and the assignment modules are loaded once, not once per model (about 2.5 s each)."""

    def __init__(self, profile: str, threads: int, children: set[subprocess.Popen]):
        self.children = children
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lib.build", "model-worker", "--profile", profile],
            cwd=paths.ROOT,
            env=_child_env(threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        children.add(self.process)

    def train(self, model: ModelJob, overrides: dict[str, Any], print_lock: threading.Lock) -> str | None:
        """Train ``model`` in this worker, its output prefixed with its label; None or the error."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"notebook": model.notebook, "key": model.key, "label": model.label, "overrides": overrides}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            return f"model {model.label} could not be trained: its training process has stopped"
        for line in self.process.stdout:
            if line.startswith(WORKER_REPLY):
                reply = line.removeprefix(WORKER_REPLY).strip()
                return None if reply == "ok" else reply
            with print_lock:  # the training loops name their model already
                print(line if line.startswith(f"[{model.label}") else f"[{model.label}] {line}", end="", flush=True)
        return f"model {model.label} could not be trained: its training process stopped"

    def close(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.close()
            self.process.wait()
        self.children.discard(self.process)


def model_worker(profile: str) -> None:
    """The loop of a :class:`_ModelWorker`: one JSON request per input line, one reply each."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            train_model(request["notebook"], request["key"], profile, request["overrides"])
            reply = "ok"
        except Exception as err:  # noqa: BLE001 - reported as one line, the worker takes the next model
            text = str(err).strip().splitlines()[-1] if str(err).strip() else ""
            reply = f"model {request['label']} failed to train: {type(err).__name__}: {text}"
        print(f"{WORKER_REPLY} {reply}", flush=True)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def report(
    assignments: list[str],
    profile: str,
    settings: dict[str, dict[str, Any]],
    force: bool = False,
    jobs: int | None = None,
) -> list[Path]:
    """Train the models the stale notebooks need, execute those notebooks, build the PDFs.

    Every model a stale notebook declares (``lib/<assignment>/targets.py``) and the cache
    lacks is a job, once per cache key; each notebook is a job that waits for its models.
    ``jobs`` of them run side by side in child processes (the cores split between them),
    the one heading the longest chain of work first (:mod:`lib.schedule`).  Each PDF is
    built as soon as its assignment's notebooks are done."""
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
    models: dict[str, ModelJob] = {}
    waits: dict[str, list[str]] = {}
    if stale:
        from lib import data, precision

        print(f"build: MNIST from {data.describe_source()}", flush=True)
        models, waits = plan_models(stale, profile, settings)
        labels = [m.label for m in models.values()]
        models = {  # two models with one label (a recipe's label need not name every setting): told apart by key
            key: replace(m, label=f"{m.label} [{key[:6]}]") if labels.count(m.label) > 1 else m for key, m in models.items()
        }
        print(
            f"build: {len(models)} models to train ({precision.describe()}), then {len(stale)} notebooks to execute",
            flush=True,
        )
    previous = _previous_times(profile)
    job_list = [
        schedule.Job(m.label, previous.get(m.label, m.estimate), tuple(models[k].label for k in m.needs), m.group)
        for m in models.values()
    ]
    job_list += [
        schedule.Job(nb, previous.get(nb, _notebook_estimate(nb, profile)), tuple(models[k].label for k in waits.get(nb, [])))
        for nb in stale
    ]
    by_label = {m.label: m for m in models.values()}
    slots = max(1, min(default_jobs() if jobs is None else jobs, len(job_list) or 1))
    threads = max(1, _available_cores() // slots)
    scheduler = schedule.Scheduler(job_list, slots, {m.group: 1 for m in models.values() if m.group})
    failed: dict[str, str] = {}  # assignment -> the error of its failed notebook or model
    pdf_seconds, pdf_status = {}, {}
    measured: dict[str, tuple[float, str]] = {}  # job -> (seconds, status)
    started_at: dict[str, float] = {}

    def finish(assignment: str) -> None:
        if assignment not in failed and all(nb in runs for nb in notebooks[assignment]) and assignment not in pdf_status:
            pdf_seconds[assignment], pdf_status[assignment] = _build_pdf(assignment, profile, force)

    def time_left() -> float:
        now = time.perf_counter()
        left = [
            schedule.Job(
                j.name,
                max(j.seconds - (now - started_at[j.name]), 0.0) if j.name in started_at else j.seconds,
                tuple(n for n in j.needs if n not in scheduler.done),
            )  # fmt: skip
            for j in job_list
            if j.name not in scheduler.done | scheduler.failed
        ]
        return schedule.replay(left, slots)[0] if left else 0.0

    def progress(text: str) -> None:
        done = len(scheduler.done) + len(scheduler.failed)
        print(f"build: [{done}/{len(job_list)} done, about {_minutes(time_left())} left] {text}", flush=True)

    for assignment in assignments:  # nothing to execute: the PDF may still need (re)building
        finish(assignment)
    if job_list:
        print(f"build: {len(job_list)} jobs, {slots} at a time with {threads} thread(s) each", flush=True)
    lock = threading.Lock()
    children: set[subprocess.Popen] = set()

    idle_workers: queue.SimpleQueue[_ModelWorker] = queue.SimpleQueue()
    workers: list[_ModelWorker] = []

    def work(name: str) -> str | None:
        if name in by_label:
            try:
                worker = idle_workers.get_nowait()
            except queue.Empty:
                worker = _ModelWorker(profile, threads, children)
                workers.append(worker)
            model = by_label[name]
            error = worker.train(model, settings.get(model.notebook, {}), lock)
            idle_workers.put(worker)
            return error
        if slots == 1:  # one job at a time: in this process, as `make notebook` runs one
            try:
                runs[name] = execute(name, profile, settings.get(name, {}), force=True)
            except (BuildError, params.ParameterError) as err:
                return str(err)
            return None
        with tempfile.TemporaryDirectory() as tmp:
            run_file = Path(tmp) / "run.json"
            command = ["execute", name, "--profile", profile, "--overrides-json", json.dumps(settings.get(name, {}))]
            command += ["--run-file", str(run_file), "--force"]
            error = _run_child(command, name, threads, lock, children, f"notebook {name} failed (see the lines above)")
            if error is None:
                runs[name] = NotebookRun(**json.loads(run_file.read_text()))
            return error

    pool = ThreadPoolExecutor(slots) if job_list else None
    running: dict[Any, str] = {}
    try:
        while job_list and not scheduler.finished():
            for job in scheduler.take():
                if job.name not in by_label and job.name.split("/")[0] in failed:  # its PDF is off: do not run it
                    scheduler.finish(job.name, ok=False)
                    continue
                started_at[job.name] = time.perf_counter()
                progress(f"{'training model' if job.name in by_label else 'executing'} {job.name}")
                running[pool.submit(work, job.name)] = job.name
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                error = future.result()
                seconds = time.perf_counter() - started_at[name]
                is_model = name in by_label
                if error is None:
                    measured[name] = (seconds, "trained" if is_model else "executed")
                    scheduler.finish(name)
                    progress(f"{'trained' if is_model else 'executed'} {name} in {seconds:.1f} s")
                    if not is_model:
                        finish(name.split("/")[0])  # only this thread builds PDFs
                    continue
                measured[name] = (seconds, "failed")
                blocked = scheduler.finish(name, ok=False)
                for other in [name, *blocked]:
                    notebook = by_label[other].notebook if other in by_label else other
                    failed.setdefault(notebook.split("/")[0], error)
                progress(f"failed: {error}")
    except KeyboardInterrupt:
        # Ctrl-C: start nothing more and stop the running jobs (each discards its partial
        # output: no cache entry, no executed notebook) before reporting.
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        _stop_children(children)
        raise
    finally:
        for worker in workers:
            worker.close()
    if pool is not None:
        pool.shutdown()
    total = time.perf_counter() - start
    ordered = [runs[nb] for nbs in notebooks.values() for nb in nbs if nb in runs]
    timed = [
        {
            "name": j.name,
            "kind": "model" if j.name in by_label else "notebook",
            "seconds": measured[j.name][0],
            "threads": threads,
            "status": measured[j.name][1],
            "needs": list(j.needs),
        }  # fmt: skip
        for j in job_list
        if j.name in measured
    ]
    timed += [  # a PDF is built in this process, after its notebooks
        {"name": PDF_JOB + a, "kind": "pdf", "seconds": s, "threads": 1, "status": "built", "needs": notebooks[a]}
        for a, s in pdf_seconds.items()
        if pdf_status[a] == "built"
    ]
    _print_summary(timed, ordered, total, slots, threads)
    times = {
        "profile": profile,
        "jobs_at_once": slots,
        "threads_per_job": threads,
        "precision": _precision_used(),
        "total_seconds": total,
        "jobs": timed,
        # every job's last measured seconds, this build's and older ones' (the next build's estimates)
        "known_seconds": {**_previous_times(profile), **{j["name"]: j["seconds"] for j in timed if j["status"] != "failed"}},
        "notebooks": [vars(r) for r in ordered],
        "pdf_seconds": pdf_seconds,
        "pdf_status": pdf_status,
    }
    (paths.report_dir() / "build-times.json").write_text(json.dumps(times, indent=2) + "\n")
    html_report.write_index(ASSIGNMENTS)
    if failed:  # the first failure of each assignment, one line (the others' PDFs were built)
        raise BuildError("; ".join(dict.fromkeys(failed.values())))
    return [paths.report_dir() / f"{a}.pdf" for a in assignments]


def _precision_used() -> str:
    """The training precision of this build's models (without importing torch when nothing trained)."""
    if "torch" not in sys.modules:
        return os.environ.get("BUNDLE_PRECISION", "auto")
    from lib import precision

    return precision.describe()


PREDICTED_CORES = (4, 8, 16)


def _print_summary(timed: list[dict], runs: list[NotebookRun], total: float, slots: int, threads: int) -> None:
    """The build table, then work, wall time, critical path and the predicted wall times."""
    print("\nbuild times")
    print(f"{'job':52s} {'seconds':>8s}  {'status':9s} {'models trained/loaded':>22s}")
    counts = {run.notebook: ("-" if run.trained is None else f"{run.trained}/{run.loaded}") for run in runs}
    for job in sorted(timed, key=lambda j: ({"model": 0, "notebook": 1, "pdf": 2}[j["kind"]], -j["seconds"])):
        print(f"{job['name'][:52]:52s} {job['seconds']:8.1f}  {job['status']:9s} {counts.get(job['name'], ''):>22s}")
    for run in runs:
        if run.status == "reused":
            print(f"{run.notebook:52s} {0.0:8.1f}  {'reused':9s} {counts[run.notebook]:>22s}")
    work = sum(job["seconds"] * job["threads"] for job in timed)
    print(f"{'wall time':52s} {total:8.1f}")
    if not timed:  # nothing ran: no work to replay
        return
    print(f"work: {work:.0f} core-seconds ({slots} job(s) at a time, {threads} thread(s) each)")
    # One-core times: what each job cost (seconds x its threads); a PDF runs in the parent.
    replay_jobs = [schedule.Job(j["name"], j["seconds"] * j["threads"], tuple(j["needs"])) for j in timed]
    names = {job.name for job in replay_jobs}
    replay_jobs = [schedule.Job(j.name, j.seconds, tuple(n for n in j.needs if n in names)) for j in replay_jobs]
    length, chain = schedule.critical_path(replay_jobs)
    print(f"critical path: {length:.0f} s ({' -> '.join(chain)})")
    predicted = ", ".join(f"{cores} cores {_minutes(schedule.replay(replay_jobs, cores)[0])}" for cores in (1, *PREDICTED_CORES))
    print(f"predicted wall time of this build's jobs (one core each, measured times replayed): {predicted}")


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
    trainer = sub.add_parser("train-model", help="train (or load) one model a notebook declares, by its cache key")
    trainer.add_argument("notebook")
    trainer.add_argument("key")
    trainer.add_argument("--profile", default="full")
    trainer.add_argument("--overrides-json", default="{}")
    worker = sub.add_parser("model-worker")  # internal: trains the models a build sends it (see _ModelWorker)
    worker.add_argument("--profile", default="full")
    one = sub.add_parser("run", help="execute one notebook into the report folder")
    one.add_argument("notebook", help="e.g. nn4i_ex2/q1_autoencoding")
    one.add_argument("--profile", default="full")
    one.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    allocator.keep_freed_memory()  # before any model worker or notebook kernel starts
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("papermill").addFilter(_quiet_papermill)
    for noisy in ("traitlets", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        params.check_common("build", args.profile, "auto")
        paths.check_written_dirs()
        if args.command == "model-worker":
            model_worker(args.profile)
        elif args.command == "train-model":
            train_model(args.notebook, args.key, args.profile, json.loads(args.overrides_json))
        elif args.command == "execute":
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
