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


def _student(monkeypatch, text):
    """Make ``student.toml`` read as ``text`` for this test."""
    import tomllib

    monkeypatch.setattr(build, "load_student", lambda: {k: str(v) for k, v in tomllib.loads(text)["student"].items()})


def test_identity_used_in_file_names_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("BUNDLE_DIST_DIR", str(tmp_path / "dist"))
    pdf = paths.report_dir() / "nn4i_ex2.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    if not pdf.exists():
        pdf.write_bytes(b"%PDF-1.5 placeholder for the layout test")
    _student(monkeypatch, '[student]\nname = "A B"\nstudent_id = "12/34"\ncse_username = "ab"\n')
    with pytest.raises(build.BuildError, match="student_id = '12/34'.*fix"):
        submission.nn4i_ex2()
    _student(monkeypatch, '[student]\nname = "A B"\n')
    with pytest.raises(build.BuildError, match="lacks student_id, cse_username.*fix"):
        submission.nn4i_ex2()
    assert submission._file_part("Öztürk", "last_name") == "Ozturk"
    with pytest.raises(build.BuildError, match="no letters or digits"):
        submission._file_part("???", "last_name")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b'[student]\nname = "Jos\xe9"\n', "UTF-8"), (b'student = "x"\n', "must be a table")],
)
def test_unreadable_student_file_is_one_line(monkeypatch, tmp_path, content, message):
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    (tmp_path / "student.toml").write_bytes(content)
    with pytest.raises(build.BuildError, match=message) as info:
        build.load_student()
    assert "\n" not in str(info.value)
