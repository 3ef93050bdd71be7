"""End to end: the smoke profile builds every PDF; rebuilding reuses; failures lose nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import nbformat
import pytest

from lib import build, paths
from lib.report import GLUE_MIMETYPE


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.build", *args],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=1800,
    )


def pdf_text(pdf) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext not found; fix: install poppler-utils (make tex does)")
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def squash(text: str) -> str:
    """Compare headings independent of line breaks, hyphenation, spacing and ligatures."""
    return re.sub(r"[\s\-]+", "", unicodedata.normalize("NFKC", text))


def question_headings(notebook_id: str) -> list[str]:
    """The notebook's title (H1) and its question headings (H2 starting with Question/Problem/Bonus)."""
    nb = nbformat.read(paths.NOTEBOOK_DIR / f"{notebook_id}.ipynb", as_version=4)
    headings = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# ") or re.match(r"## (Question|Problem|Bonus)", line):
                headings.append(line.lstrip("#").strip())
    return headings


@pytest.fixture(scope="module")
def smoke_build(bundle_dirs):
    env = {
        "BUNDLE_DATA_DIR": bundle_dirs["data"],
        "BUNDLE_CACHE_DIR": bundle_dirs["cache"],
        "BUNDLE_REPORT_DIR": bundle_dirs["report"],
        "BUNDLE_OFFLINE": "1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    from tests.conftest import mnist_source

    os.environ["MNIST_DIR"] = str(mnist_source())
    start = time.perf_counter()
    result = run_build("report", "--profile", "smoke")
    yield result, time.perf_counter() - start
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_smoke_build_writes_every_pdf_with_every_heading(smoke_build, bundle_dirs):
    result, seconds = smoke_build
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    for assignment, spec in build.ASSIGNMENTS.items():
        pdf = bundle_dirs["report"] / f"{assignment}.pdf"
        assert pdf.is_file() and pdf.stat().st_size > 20_000
        text = squash(pdf_text(pdf))
        for name in spec.notebooks:
            for heading in question_headings(f"{assignment}/{name}"):
                plain = re.sub(r"\$[^$]*\$", "", heading)  # math renders differently; compare the words
                assert squash(plain) in text, f"{assignment}.pdf lacks the heading '{heading}'"
            metrics = bundle_dirs["report"] / assignment / "metrics" / f"{name}.json"
            assert json.loads(metrics.read_text())  # every notebook reported its numbers
    print(f"smoke build took {seconds:.0f} s")


def test_idl_measures_what_the_issue_asks(smoke_build, bundle_dirs):
    """idl_ex3 in the smoke build: P1 has the handout's schemes, the ablation (b0) and scheme (d)
    for every draw; P2 trains every design with every seed; P4 reads its samples with two judges."""
    folder = bundle_dirs["report"] / "idl_ex3" / "metrics"
    p1 = json.loads((folder / "p1_transfer.json").read_text())
    draws = p1["settings"]["num_draws"]
    assert set(p1["test_acc"]) == {"a", "b0", "b", "c0", "c", "d"}
    assert all(len(values) == draws for values in p1["test_acc"].values())
    assert {"b0-a", "b-b0", "c-c0", "c0-b", "c-b", "d-b"} <= set(p1["paired_differences"])
    assert len(p1["self_training_rounds"]) == draws
    p2 = json.loads((folder / "p2_latent_gan.json").read_text())
    seeds = p2["settings"]["gan_seeds"]
    assert set(p2["per_seed"]) == {"linear", "range"}
    assert all(len(per_seed) == len(seeds) for per_seed in p2["per_seed"].values())
    p4 = json.loads((folder / "p4_conditional_gan.json").read_text())
    assert set(p4["class_consistency"]) == {"judge", "second judge"}
    assert all(len(rows) == len(p4["settings"]["cgan_seeds"]) for rows in p4["class_consistency"].values())


def test_q4_measures_what_the_longer_pretraining_adds(smoke_build, bundle_dirs):
    """Q4's frozen encoder trains longer than Q1's AE; the frozen scheme is repeated on Q1's encoder."""
    metrics = json.loads((bundle_dirs["report"] / "nn4i_ex2" / "metrics" / "q4_transfer.json").read_text())
    encoder = metrics["pretrained_encoder"]
    assert encoder["num_epochs"] > encoder["q1_encoder_num_epochs"]
    ablation = [scheme for scheme in metrics["headline"] if scheme.startswith("frozen encoder of Q1")]
    assert ablation and len(metrics["headline"][ablation[0]]["test_acc"]) == metrics["settings"]["num_draws"]


CLEAN = [name for name, spec in build.ASSIGNMENTS.items() if spec.clean_pdf]


def test_the_clean_assignments():
    assert set(CLEAN) == set(build.ASSIGNMENTS)  # every assignment: no pipeline output in any PDF


@pytest.mark.parametrize("assignment", CLEAN)
def test_pdf_hides_code_and_parameter_cells(smoke_build, bundle_dirs, assignment):
    text = pdf_text(bundle_dirs["report"] / f"{assignment}.pdf")
    for code in ("cfg = resolve(", "notebook.setup(", "from lib", 'profile = "full"', "write_metrics(", "report.glue("):
        assert code not in text, f"code cell source {code!r} leaked into {assignment}.pdf"


# --- the HTML reports, in a real browser ---------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RAW_MATH = re.compile(r"(?<!\\)\$[^$\s][^$]*?\$|\\\(|\\\[")  # TeX that MathJax left as text
BROWSER_CHECKS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('details, pre, code, mjx-container, script, style').forEach(e => e.remove());
  const images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 60));
  const toc = [...document.querySelectorAll('nav.bundle-toc a')].map(a => {
    const id = a.getAttribute('href').slice(1);
    const target = document.getElementById(id) || document.getElementById(decodeURIComponent(id));
    return target && /^H[1-6]$/.test(target.tagName) ? null : a.getAttribute('href');
  }).filter(x => x);
  return {text: clone.innerText, images, numImages: document.images.length, badToc: toc,
          tocLinks: document.querySelectorAll('nav.bundle-toc a').length,
          formulas: document.querySelectorAll('mjx-container').length,
          codeOpen: [...document.querySelectorAll('details.bundle-code')].filter(d => d.open).length,
          links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))};
}"""


def _open_in_chromium(browser, page_path: Path, screenshot: Path) -> tuple[dict, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def offline(route):  # a report must not need the network: any such request is an error
        if route.request.url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            errors.append(f"network request {route.request.url}")
            route.abort()

    page.route("**/*", offline)
    page.goto(page_path.as_uri(), wait_until="load")
    if page_path.name != "index.html":  # typesetting is asynchronous: wait for MathJax to finish
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
    found = page.evaluate(BROWSER_CHECKS)
    page.screenshot(path=str(screenshot))
    page.close()
    return found, errors


def test_html_reports_render_in_chromium(smoke_build, bundle_dirs):
    """index.html and each report open from disk with no console error or network request,
    every image decodes, every contents link lands on a heading, MathJax typeset all math,
    code is folded, and each page stays under 15 MB."""
    assert smoke_build[0].returncode == 0, smoke_build[0].stderr[-2000:]
    assert CHROMIUM, "no chromium on PATH; fix: make browser (Playwright drives Debian's chromium)"
    from playwright.sync_api import sync_playwright

    report = bundle_dirs["report"]
    started = time.time()
    shots = paths.ROOT / "report" / "screenshots"  # the first screen of each page, for a person to look at (not committed)
    shots.mkdir(parents=True, exist_ok=True)
    pages = [report / "index.html"] + [report / f"{a}.html" for a in build.ASSIGNMENTS]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for page_path in pages:
                assert page_path.is_file() and page_path.stat().st_size <= 15_000_000, page_path
                found, errors = _open_in_chromium(browser, page_path, shots / f"smoke-{page_path.stem}.png")
                assert not errors, f"{page_path.name}: {errors[:3]}"
                assert not found["images"], f"{page_path.name}: images that do not decode: {found['images'][:3]}"
                if page_path.name == "index.html":
                    for href in found["links"]:
                        assert (report / href).exists(), f"index.html links to missing {href}"
                    assert all(f"{a}.html" in found["links"] and f"{a}.pdf" in found["links"] for a in build.ASSIGNMENTS)
                    continue
                assert found["tocLinks"] >= len(build.ASSIGNMENTS[page_path.stem].notebooks), page_path.name
                assert not found["badToc"], f"{page_path.name}: contents links without a heading: {found['badToc'][:3]}"
                assert found["formulas"] > 0 and found["numImages"] > 0, page_path.name
                leftover = RAW_MATH.findall(found["text"])
                assert not leftover, f"{page_path.name}: math MathJax did not typeset: {leftover[:3]}"
                assert found["codeOpen"] == 0, f"{page_path.name}: code is not folded"
        finally:
            browser.close()
    assert all((shots / f"smoke-{p.stem}.png").stat().st_mtime >= started for p in pages)  # written by this run


@pytest.mark.parametrize("assignment", [a for a, spec in build.ASSIGNMENTS.items() if spec.clean_pdf])
def test_html_report_numbers_figures_and_tables_like_the_pdf(smoke_build, bundle_dirs, assignment):
    page = (bundle_dirs["report"] / f"{assignment}.html").read_text()
    merged = nbformat.read(bundle_dirs["report"] / f"{assignment}.ipynb", as_version=4)
    counts = {"figure": 0, "table": 0}
    for cell in merged.cells:
        for output in cell.get("outputs", []):
            kind = output.get("metadata", {}).get("bundle", {}).get("kind")
            if kind in counts:
                counts[kind] += 1
    assert counts["figure"] and counts["table"]
    for kind, count in counts.items():
        label = kind.capitalize()
        assert f"<b>{label} {count}:</b>" in page and f"<b>{label} {count + 1}:</b>" not in page
    pdf = squash(pdf_text(bundle_dirs["report"] / f"{assignment}.pdf"))
    assert squash(f"Figure {counts['figure']}:") in pdf and squash(f"Table {counts['table']}:") in pdf
    assert "cache: " not in page and "-&gt; OK" not in page  # the same pipeline output removed as in the PDF


# One quick notebook per assignment: re-run top to bottom as a grader would in Jupyter.
RERUN = ("nn4i_ex2/q3_decorrelation", "cpsc663_ex2/p4_cnn", "idl_ex3/p3_interpolation")


def _shown_values(notebook: nbformat.NotebookNode) -> list[str]:
    """What a notebook shows that must not change on a re-run: glued values and tables."""
    shown = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in (GLUE_MIMETYPE, "text/markdown", "text/latex"):
                if mime in data:
                    shown.append(json.dumps(data[mime], sort_keys=True))
    return shown


@pytest.mark.parametrize("notebook_id", RERUN)
def test_executed_notebook_reruns_in_jupyter_from_the_cache(smoke_build, bundle_dirs, notebook_id, tmp_path, monkeypatch):
    """A grader opens an executed smoke notebook and runs it top to bottom (nbclient, not the
    build): same glued values and tables, every model loaded from the build's cache, none trained."""
    from nbclient import NotebookClient

    assert smoke_build[0].returncode == 0
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(tmp_path / "report"))  # its metrics and model files go here, not over the build's
    executed = nbformat.read(bundle_dirs["report"] / f"{notebook_id}.ipynb", as_version=4)
    rerun = nbformat.read(bundle_dirs["report"] / f"{notebook_id}.ipynb", as_version=4)
    NotebookClient(rerun, kernel_name=build.KERNEL_NAME, timeout=600, resources={"metadata": {"path": str(paths.ROOT)}}).execute()
    streams = "".join(o.get("text", "") for c in rerun.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "cache: trained" not in streams and "cache: loaded" in streams
    assert _shown_values(rerun) == _shown_values(executed)


def test_the_build_trains_every_model_before_the_notebooks_that_load_it(smoke_build, bundle_dirs):
    """The models each assignment declares (lib/<assignment>/targets.py) are all a notebook
    needs: from an empty cache, every notebook only loads; each model was a job of its own,
    finished before any notebook that waits for it started; the log shows progress."""
    result, _ = smoke_build
    assert result.returncode == 0
    for assignment, spec in build.ASSIGNMENTS.items():
        for name in spec.notebooks:
            counts = json.loads(paths.metrics_path(assignment, name).read_text())["model_cache"]
            assert counts["trained"] == 0, f"{assignment}/{name} trained {counts['trained']} model(s) itself"
    jobs = json.loads((bundle_dirs["report"] / "build-times.json").read_text())["jobs"]
    models = [job for job in jobs if job["kind"] == "model"]
    assert len(models) >= 30 and all(job["status"] == "trained" for job in models)
    notebooks = [job for job in jobs if job["kind"] == "notebook"]
    assert {job["name"] for job in notebooks} == set(build.all_notebook_ids())
    assert any(job["needs"] for job in notebooks) and any(job["needs"] for job in models)  # GANs need the AE
    log = result.stdout
    assert re.search(r"build: \[\d+/\d+ done, about [\d.]+ (s|min) left\] trained ", log)
    assert log.count("build: MNIST from ") == 1
    for line in ("work: ", "critical path: ", "predicted wall time", "8 cores"):
        assert line in log
    assert "Kernel is running over TCP" not in log and "IPython.core.display" not in log


def test_a_model_that_fails_to_train_is_named_and_loses_nothing(smoke_build, bundle_dirs, monkeypatch):
    """A model job that fails: one line naming the model, the notebook that needs it never
    starts, no cache entry is written and the previous PDF stays."""
    assert smoke_build[0].returncode == 0
    pdf = bundle_dirs["report"] / "cpsc663_ex2.pdf"
    before = pdf.read_bytes()
    cached = sorted(Path(bundle_dirs["cache"]).rglob("*.pt"))
    needy = "cpsc663_ex2/p4_cnn"
    bogus = build.ModelJob("0" * 20, "bogus model", 1.0, (), needy, "")
    monkeypatch.setattr(build, "is_current", lambda notebook_id, profile, overrides: notebook_id != needy)
    monkeypatch.setattr(build, "plan_models", lambda stale, profile, settings: ({bogus.key: bogus}, {needy: [bogus.key]}))
    with pytest.raises(build.BuildError) as failure:
        build.report(["cpsc663_ex2"], "smoke", {}, jobs=2)
    message = str(failure.value)
    assert message.startswith("model bogus model failed to train") and "fix:" in message and "\n" not in message
    assert pdf.read_bytes() == before
    assert sorted(Path(bundle_dirs["cache"]).rglob("*.pt")) == cached
    times = json.loads((bundle_dirs["report"] / "build-times.json").read_text())
    assert [(job["name"], job["status"]) for job in times["jobs"]] == [("bogus model", "failed")]


def test_rebuild_reuses_everything(smoke_build, bundle_dirs):
    start = time.perf_counter()
    result = run_build("report", "--profile", "smoke")
    assert result.returncode == 0, result.stderr[-2000:]
    times = json.loads((bundle_dirs["report"] / "build-times.json").read_text())
    assert {n["status"] for n in times["notebooks"]} == {"reused"} and times["jobs"] == []
    assert set(times["pdf_status"].values()) == {"reused"}, "an unchanged build rebuilt a PDF"
    assert time.perf_counter() - start < 120


def test_bad_parameter_stops_before_running_and_keeps_pdf(smoke_build, bundle_dirs):
    pdf = bundle_dirs["report"] / "nn4i_ex2.pdf"
    before = pdf.read_bytes()
    result = run_build("report", "--profile", "smoke", "--set", "nn4i_ex2/q1_autoencoding:latent_dims=[0]")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "latent_dims" in result.stderr
    assert pdf.read_bytes() == before


# A notebook that writes a metrics file and an exported model, as the real ones do.
WRITES_OUTPUTS = """
from lib import paths
from lib.metrics import write_metrics

write_metrics("tst", "boom", {"run": RUN})
paths.exported_models_dir("tst").mkdir(parents=True, exist_ok=True)
(paths.exported_models_dir("tst") / "model.pt").write_text(RUN)
"""


def write_test_notebook(folder, run: str, fails: bool) -> None:
    cells = [
        nbformat.v4.new_markdown_cell("# Boom"),
        nbformat.v4.new_code_cell('profile = "full"\ndevice = "auto"'),
        nbformat.v4.new_code_cell(WRITES_OUTPUTS.replace("RUN", repr(run))),
        nbformat.v4.new_code_cell("1 / 0" if fails else "x = 1"),
    ]
    cells[1].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": build.KERNEL_NAME, "language": "python", "display_name": "Python (mnist-bundle)"}},
    )
    (folder / "tst").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "tst" / "boom.ipynb")


def written_metrics() -> dict:
    """tst/boom's metrics file, less the model counts write_metrics adds itself."""
    metrics = json.loads(paths.metrics_path("tst", "boom").read_text())
    assert set(metrics.pop("model_cache")) == {"trained", "loaded", "precisions"}
    return metrics


def test_failing_notebook_names_the_cell_and_keeps_previous_output(tmp_path, monkeypatch):
    """A notebook that fails after writing its metrics and an exported model replaces
    neither: what it writes is staged and moved into the report folder only on success."""
    notebooks = tmp_path / "notebooks"
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(tmp_path / "report"))  # keep tst/ out of the smoke build's folder
    write_test_notebook(notebooks, "good", fails=False)
    build.execute("tst/boom", "smoke", {})
    executed, model = paths.report_dir() / "tst" / "boom.ipynb", paths.exported_models_dir("tst") / "model.pt"
    assert written_metrics() == {"run": "good"} and model.read_text() == "good"
    before = executed.read_bytes()

    write_test_notebook(notebooks, "bad", fails=True)
    with pytest.raises(build.BuildError, match=r"boom.ipynb failed in cell \d+: ZeroDivisionError") as info:
        build.execute("tst/boom", "smoke", {})
    assert "\n" not in str(info.value)
    assert executed.read_bytes() == before
    assert written_metrics() == {"run": "good"} and model.read_text() == "good"
    assert not list((paths.report_dir() / ".staging").iterdir()) and "BUNDLE_STAGING_DIR" not in os.environ
    with pytest.raises(build.BuildError, match="'profile' cannot be given.*fix: use --profile quick"):
        build.execute("tst/boom", "smoke", {"profile": "quick"})


def test_the_kernel_imports_this_checkouts_lib(tmp_path, monkeypatch):
    """The notebook's input key hashes this checkout's lib, so the kernel must import that
    lib, not another one found first on its path (a worktree beside an editable install)."""
    decoy = tmp_path / "decoy"
    (decoy / "lib").mkdir(parents=True)
    (decoy / "lib" / "__init__.py").write_text("raise ImportError('the decoy lib was imported')")
    monkeypatch.setenv("PYTHONPATH", str(decoy))
    notebooks = tmp_path / "notebooks"
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", notebooks)
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(tmp_path / "report"))
    write_test_notebook(notebooks, "good", fails=False)
    build.execute("tst/boom", "smoke", {})
    assert written_metrics() == {"run": "good"} and os.environ["PYTHONPATH"] == str(decoy)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--assignment", "cpsc663_ex2", "--set", "nn4i_ex2/q1_autoencoding:num_epochs=3"], "does not run.*fix"),
        (["--set", "num_epochs=3"], "does not name a notebook; fix"),
        (["--set", "cpsc663_ex2/p4_cnn:profile=quick"], "'profile' cannot be given"),
        (["--set", "cpsc663_ex2/p4_cnn:seeds=[0,"], "not NAME=VALUE|parameter 'seeds' = '\\[0,'.*valid list"),
        (["--set", "cpsc663_ex2/p6_conv_autoencoders:num_epochs=1000000000"], "parameter 'num_epochs'.*less than or equal"),
    ],
)
def test_bad_settings_are_one_line_errors(args, message, capsys):
    assert build.main(["report", "--profile", "smoke", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert re.search(message, err) and "\n" not in err


def test_report_folder_that_is_a_file_is_named(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(afile))
    assert build.main(["run", "cpsc663_ex2/99_bonus", "--profile", "smoke"]) == 1
    err = capsys.readouterr().err.strip()
    assert "BUNDLE_REPORT_DIR" in err and "fix" in err and "\n" not in err


def test_ctrl_c_stops_a_parallel_build_and_keeps_its_outputs(smoke_build, bundle_dirs):
    """Ctrl-C (SIGINT to the process group) during a two-job build: the running notebooks
    stop, the queued ones never start, and every executed notebook and the PDF are kept."""
    assert smoke_build[0].returncode == 0
    report = bundle_dirs["report"]
    kept = {path: path.read_bytes() for path in [report / "cpsc663_ex2.pdf", *(report / "cpsc663_ex2").glob("*.ipynb")]}
    command = [sys.executable, "-m", "lib.build", "report", "--profile", "smoke", "--assignment", "cpsc663_ex2"]
    child = subprocess.Popen(
        [*command, "--force", "--jobs", "2"],
        cwd=paths.ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
        # a terminal's Ctrl-C handling, also when the tests run in a background job (which ignores SIGINT)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    started, lines = [], []
    for line in child.stdout:
        lines.append(line)
        if "] build: executing" in line:
            started.append(line)
            if len(started) == 2:
                break
    time.sleep(3)
    interrupted_at = time.perf_counter()
    os.killpg(child.pid, signal.SIGINT)
    rest, _ = child.communicate(timeout=120)
    lines += rest.splitlines(keepends=True)
    assert child.returncode == 130, "".join(lines)[-2000:]
    assert time.perf_counter() - interrupted_at < 60
    assert sum("] build: executing" in line for line in lines) == 2, "a queued notebook started after Ctrl-C"
    assert all(path.read_bytes() == content for path, content in kept.items())
    assert not list(report.rglob(".*.running.ipynb"))
    assert not (report / ".staging").exists() or not list((report / ".staging").iterdir())


def test_two_smoke_builds_from_empty_caches_write_identical_metrics(smoke_build, bundle_dirs, tmp_path):
    """Determinism: every metric (seeded training, seeded draws) is reproduced exactly by a
    second build with its own empty model cache."""
    first, _ = smoke_build
    assert first.returncode == 0
    env_before = {k: os.environ.get(k) for k in ("BUNDLE_CACHE_DIR", "BUNDLE_REPORT_DIR")}
    os.environ.update({"BUNDLE_CACHE_DIR": str(tmp_path / "cache"), "BUNDLE_REPORT_DIR": str(tmp_path / "report")})
    try:
        second = run_build("report", "--profile", "smoke")
    finally:
        for k, v in env_before.items():
            os.environ[k] = v
    assert second.returncode == 0, second.stderr[-2000:]
    first_files = sorted((bundle_dirs["report"]).glob("*/metrics/*.json"))
    assert len(first_files) >= sum(len(a.notebooks) for a in build.ASSIGNMENTS.values())

    def metrics_and_counts(path):
        # Which of two notebooks running side by side trains a model they share (and
        # which loads it) depends on timing; the models, metrics and totals do not.
        metrics = json.loads(path.read_text())
        counts = metrics.pop("model_cache", {})
        return metrics, counts

    first_metrics = {f.relative_to(bundle_dirs["report"]): metrics_and_counts(f) for f in first_files}
    second_metrics = {rel: metrics_and_counts(tmp_path / "report" / rel) for rel in first_metrics}
    different = [str(rel) for rel in first_metrics if first_metrics[rel][0] != second_metrics[rel][0]]
    assert not different, f"metrics differ between two identical builds: {different}"
    # The build trains every model once (a model two notebooks need is one job), before the notebooks load it.
    jobs = json.loads((tmp_path / "report" / "build-times.json").read_text())["jobs"]
    trained = [job["name"] for job in jobs if job["kind"] == "model" and job["status"] == "trained"]
    assert len(trained) == len(set(trained)) == len(list((tmp_path / "cache").rglob("*.pt"))), "a model was trained twice"
    assert all(counts.get("trained") == 0 for _, counts in second_metrics.values())


def test_prose_edit_reruns_only_that_notebook_and_its_pdf(smoke_build, bundle_dirs, tmp_path, monkeypatch):
    """Editing a markdown cell of one notebook re-executes that notebook alone and rebuilds
    only its assignment's PDF.  The edit is made to a copy of notebooks/ (the build reads
    them from paths.NOTEBOOK_DIR, so it runs in this process): no tracked file is touched."""
    assert smoke_build[0].returncode == 0
    notebooks = tmp_path / "notebooks"
    shutil.copytree(paths.NOTEBOOK_DIR, notebooks)
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", notebooks)
    source = notebooks / "cpsc663_ex2" / "99_bonus.ipynb"
    notebook = nbformat.read(source, as_version=4)
    prose = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    prose.source += "\n\nA sentence added by the rebuild test."
    nbformat.write(notebook, source)
    assert build.main(["report", "--profile", "smoke", "--jobs", "1"]) == 0
    times = json.loads((bundle_dirs["report"] / "build-times.json").read_text())
    executed = [n["notebook"] for n in times["notebooks"] if n["status"] == "executed"]
    assert executed == ["cpsc663_ex2/99_bonus"]
    assert times["pdf_status"] == {"nn4i_ex2": "reused", "idl_ex3": "reused", "cpsc663_ex2": "built"}
    assert squash("A sentence added by the rebuild test") in squash(pdf_text(bundle_dirs["report"] / "cpsc663_ex2.pdf"))


# Pipeline output that must not reach a clean PDF: training and cache log lines, check and
# pass/fail lines, device lines, object reprs, unfilled placeholders and tracebacks.
LEAK = re.compile(
    r"\bbar[ _:]|\bBAR\b|\bMET\b|MISSED|\bPASS(ED)?\b|\bFAIL(ED)?\b|-> ?OK\b|\bOK:|checks? passed|"
    r"cache: (trained|loaded)|stored as [0-9a-f]{8}|\bepoch \d+/\d+|\] epoch \d|WARNING:|"
    r"device: (cpu|cuda|mps)|from commit|"
    r"Markdown object|PosixPath|<Figure|Figure size \d|object at 0x|<lib\.|\b(Sequential|Linear|Conv2d|ConvTranspose2d)\(|"
    r"\w+Settings\(|\w+Result\(|AERecipe\(|\{\{|\}\}|Traceback|Error: "
)


def leaked_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if LEAK.search(line)]


def test_leak_pattern_catches_pipeline_output_and_passes_prose():
    leaks = [
        "[AE d=10 L=3 seed=0 1 ep] epoch 1/1  train_mse 0.06000  test_mse 0.05000  2.1 s",
        "cache: trained AE d=10 L=3 seed=0 1 ep in 3.3 s, stored as 8fc8dbfa",
        "cache: loaded judge CNN (1a2b3c4d)",
        "device: cpu, 2 threads",
        "bar: 85% frozen encoder MET",
        "Q1 test MSE 0.0114 -> OK",
        "all checks passed",
        "<IPython.core.display.Markdown object>",
        "PosixPath('/work/main/report/nn4i_ex2/metrics/q1_autoencoding.json')",
        "<Figure size 1000x340 with 2 Axes>",
        "Q1Settings(profile='smoke', device='auto', latent_dims=[2, 10])",
        "Sequential(",
        "The best model reaches {{best_mse}} test MSE.",
        "Traceback (most recent call last):",
        "WARNING: head is at chance level",
        "PASS frozen encoder",
    ]
    assert [line for line in leaks if not leaked_lines(line)] == []
    prose = [
        "The frozen encoder reaches 85.4% ± 1.2% test accuracy (Table 3), the whole network 88.0%.",
        "Figure 4 plots the test error against d; error bars show the spread over three training seeds.",
        "Every number and figure in this document was produced by the code that ran in this build.",
        "Settings profile: smoke; built 2026-11-30; source revision 06fefab.",
        "The decoder's 32×32 output is cropped to 28×28; a barely trained model passes the check loosely.",
    ]
    assert leaked_lines("\n".join(prose)) == []


@pytest.mark.parametrize("assignment", CLEAN)
def test_clean_pdf_shows_no_pipeline_output(smoke_build, bundle_dirs, assignment):
    """A clean PDF (every assignment) holds only prose, numbered figures and captioned tables."""
    assert smoke_build[0].returncode == 0
    leaks = leaked_lines(pdf_text(bundle_dirs["report"] / f"{assignment}.pdf"))
    assert not leaks, f"{assignment}.pdf shows pipeline output: {leaks[:5]}"


def test_unnumbered_assignment_keeps_the_handouts_numbers(smoke_build, bundle_dirs):
    """cpsc663_ex2's headings carry the handout's numbers ("4.2 ..."): its merged notebook
    starts by switching LaTeX's section numbers off; the numbered assignments do not."""
    assert smoke_build[0].returncode == 0
    assert not build.ASSIGNMENTS["cpsc663_ex2"].numbered_sections
    for assignment, spec in build.ASSIGNMENTS.items():
        first = nbformat.read(bundle_dirs["report"] / f"{assignment}.ipynb", as_version=4).cells[0]
        switched_off = first.cell_type == "raw" and first.source == "\\setcounter{secnumdepth}{0}"
        assert switched_off == (not spec.numbered_sections), assignment
    text = squash(pdf_text(bundle_dirs["report"] / "cpsc663_ex2.pdf"))  # contents and body
    assert squash("4.1 Output sizes") in text and not re.search(r"\d\.\d4\.1Outputsizes", text)  # not "2.1 4.1 ..."


def test_cpsc_notebooks_glued_what_the_static_check_reads(smoke_build, bundle_dirs):
    """tests/test_cpsc663.py checks the prose's {{name}}s against the glue calls and summary keys
    it reads from the code; the executed smoke notebooks glued at least those, and every
    placeholder of their prose."""
    from tests.test_cpsc663 import NAME, cells_of, glued_names, notebook

    assert smoke_build[0].returncode == 0
    for name in build.ASSIGNMENTS["cpsc663_ex2"].notebooks:
        executed = nbformat.read(bundle_dirs["report"] / "cpsc663_ex2" / f"{name}.ipynb", as_version=4)
        glued = set(build._glued_values(executed))
        static = glued_names(notebook(name))
        assert static <= glued, f"{name}: read from the code but not glued: {sorted(static - glued)}"
        assert set(NAME.findall(cells_of(notebook(name), "markdown"))) <= glued, name


def test_title_page_shows_title_subtitle_name_and_date_and_provenance_is_the_last_appendix(smoke_build, bundle_dirs):
    """The title page carries nothing from the build; the commit, profile and hardware are in a
    short appendix after every notebook's content."""
    assert smoke_build[0].returncode == 0
    name = build.load_student().get("name", "")
    for assignment, spec in build.ASSIGNMENTS.items():
        pages = pdf_text(bundle_dirs["report"] / f"{assignment}.pdf").split("\f")
        title_page = squash(pages[0])
        assert title_page.startswith(squash(spec.title + spec.subtitle + name)), pages[0]
        assert re.fullmatch(r"\d{8}", title_page[len(squash(spec.title + spec.subtitle + name)) :]), pages[0]  # the date
        # listed in the contents as an appendix ("A Provenance"; unnumbered where the sections are)
        assert squash("A Provenance" if spec.numbered_sections else "Provenance") in squash(pages[1])
        rest = "\f".join(pages[2:])
        assert squash("Every number, figure and table in this document was computed by the code") in squash(rest)
        how_trained = (
            r"uses\d+trainedmodels(\(asetofclassifierstrainedtogethercountsonce\))?\.(All)?\d+ofthemweretrainedwith(bfloat16|float16)"
            r"|trainedinfloat32arithmetic|usesnotrained"
        )
        assert re.search(how_trained, squash(rest)), rest[-1500:]
        # nn4i_ex2's Q4 classifiers are cached a set to an entry, and the count says so
        assert (squash("(a set of classifiers trained together counts once)") in squash(rest)) == (assignment == "nn4i_ex2")
        last_heading = question_headings(f"{assignment}/{spec.notebooks[-1]}")[-1]
        plain = re.sub(r"\$[^$]*\$", "", last_heading)
        assert squash(rest).rindex(squash("Provenance")) > squash(rest).index(squash(plain))
