from __future__ import annotations

import zipfile

import pytest

from lib import build, paths, submission


def test_nn4i_zip_layout_and_placeholder_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BUNDLE_DIST_DIR", str(tmp_path / "dist"))
    pdf = paths.report_dir() / "nn4i_ex2.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    if not pdf.exists():
        pdf.write_bytes(b"%PDF-1.5 placeholder for the layout test")
    target = submission.nn4i_ex2()
    assert target.name == f"ex2_{build.load_student()['student_id']}.zip"
    names = zipfile.ZipFile(target).namelist()
    assert "ex2.pdf" in names and "README" in names
    assert "code/lib/models.py" in names and "code/notebooks/q1_autoencoding.ipynb" in names
    readme = zipfile.ZipFile(target).read("README").decode()
    assert "Name:" in readme and "ID:" in readme and "CSE username:" in readme
    assert "placeholder" in capsys.readouterr().err  # student.toml ships with placeholders


def test_missing_pdf_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BUNDLE_REPORT_DIR", str(tmp_path / "empty"))
    with pytest.raises(build.BuildError, match="make report"):
        submission.nn4i_ex2()
