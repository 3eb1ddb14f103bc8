"""Every `mlops` failure is one line on stderr naming the problem, with a hint and a
non-zero exit code; -v shows the traceback instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.ops.cli import main
from shared.ports import NotFound


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    return line


def test_scoring_before_anything_is_deployed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "score", "hello"]) == 1
    line = one_line(capsys)
    assert line.startswith("mlops score: endpoint spam-endpoint does not exist")
    assert "(hint: run `mlops demo`" in line


def test_a_bad_setting_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_CANARY_SECONDS", "soon")
    assert main(["--home", str(tmp_path), "score", "hello"]) == 2
    line = one_line(capsys)
    assert line.startswith("mlops score: bad setting MLOPS_CANARY_SECONDS: ")
    assert "local.settings.example.json" in line


def test_missing_azure_settings_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_BACKEND", "azure")
    assert main(["--home", str(tmp_path), "score", "hello"]) == 2
    line = one_line(capsys)
    assert "bad settings: MLOPS_BACKEND=azure needs these settings: AZURE_CLIENT_ID" in line


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="spam-endpoint"):
        main(["--home", str(tmp_path), "-v", "score", "hello"])


def test_a_host_that_is_not_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "part.tsv"
    data.write_text("label\ttext\nham\thi\n")
    code = main(["--home", str(tmp_path), "upload", str(data), "--url", "http://127.0.0.1:9"])
    assert code == 1
    line = one_line(capsys)
    assert "cannot reach the host" in line and "hint: is `mlops serve` running there?" in line
