"""Nothing raw reaches a terminal or a log line (issue 12, section 4).

Hostile strings (ANSI sequences, C0/C1 controls, newlines, bidi overrides, zero-width and
tag characters, rich markup) are written into a real home through the real function entry
points; then `mlops audit`, `audit --follow`, `explain`, `status` and the error one-liners
run as subprocesses and their raw bytes are checked. Property tests pin the one function.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import bootstrap
from shared.adapters.local import backend as local_backend
from shared.adapters.local.backend import local_topic
from shared.adapters.project_files import REPO_ROOT
from shared.devhost import delivery
from shared.domain.text import neutralise
from shared.settings import Settings
from tests.conftest import model_registered
from tests.unit.test_api_helpers import call, principal_header

# One of each way text can act on a terminal or a log reader instead of being read.
HOSTILE = (
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b]0;pwned\x07",  # OSC: set the window title
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x9b31mC1-CSI",  # the one-byte C1 introducer
    "ok\r\x1b[Kforged",  # carriage return, erase the line
    "one\n2026-01-01 00:00:00,000 CRITICAL forged line",  # a second (log) line
    "abc\b\b\bxyz",  # backspaces overwrite what was shown
    "nul\x00bell\x07del\x7f",
    "next\x85line",  # NEL
    "line\u2028para\u2029",  # Unicode line and paragraph separators
    "invoice\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066isolate\u2069\u200f\u061c",  # LRI, PDI, RLM, ALM
    "zero\u200bwidth\u200d\ufeff",
    "tag\U000e0041\U000e007f",  # tag characters hide text
    "wide\u3000space\u00a0nbsp",
    "[bold red]markup[/] :skull: [link=https://evil.example]x[/link]",
    "back\\x1b[2Jslash",  # a literal backslash escape: must not look like ESC
)
SETTINGS_ENV = {"PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def inert(raw: bytes) -> list[str]:
    """Every character on its own line is printable: no control, format or separator
    character survived (lines are split on LF only; a CR would be reported)."""
    text = raw.decode("utf-8")
    return [repr(c) for line in text.split("\n") for c in line if not c.isprintable()]


def mlops(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "shared.ops.cli", "--home", str(home), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **SETTINGS_ENV},
        check=False,
    )


# The function -----------------------------------------------------------------------------


def restore(shown: str) -> str:
    """The inverse of neutralise, for the tests: Python escapes back to characters."""
    named = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token[1] in named:
            return named[token[1]]
        return chr(int(token[2:], 16))

    return re.sub(r"\\(?:[\\nrt]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})", one, shown)


@given(st.text(alphabet=st.characters(codec=None)))
def test_any_string_is_shown_on_one_printable_line(text: str) -> None:
    shown = neutralise(text)
    assert shown.isprintable()  # no control, format, separator or surrogate character
    assert "\n" not in shown and "\x1b" not in shown


@given(st.text(alphabet=st.characters(codec=None)))
def test_the_escaping_is_reversible_so_distinct_strings_look_distinct(text: str) -> None:
    assert restore(neutralise(text)) == text


@given(st.text(alphabet=st.characters(codec=None)), st.text(alphabet=st.characters(codec=None)))
def test_two_different_strings_never_look_the_same(first: str, second: str) -> None:
    if first != second:
        assert neutralise(first) != neutralise(second)


@given(st.text(alphabet=st.characters(blacklist_categories=("C", "Z"), blacklist_characters="\\")))
def test_printable_text_is_shown_as_it_is(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_each_hostile_string_is_escaped_not_interpreted(text: str) -> None:
    shown = neutralise(text)
    assert shown.isprintable() and restore(shown) == text
    assert neutralise("\x1b[2J") == "\\x1b[2J" and neutralise("a\u202eb") == "a\\u202eb"


# A home whose trail holds hostile strings, written through the real entry points ------------


def _blob_event(settings: Settings, text: str, index: int) -> dict[str, Any]:
    """A BlobCreated for spam/<hostile name>: refused by the path rules, audited as sent."""
    name = f"spam/h{index}-{text}.csv"
    url = f"{settings.storage_account_url}/{settings.training_container}/{quote(name)}"
    return {
        "id": f"evil-{index:04d}-{text}",
        "topic": local_topic(settings, "Microsoft.Storage/storageAccounts") + text,
        "subject": f"/blobServices/default/containers/{settings.training_container}/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {
            "api": "PutBlob",
            "eTag": f'"0x8D{index:013X}"',
            "contentType": "text/csv",
            "contentLength": 10,
            "url": url,
            "sequencer": f"{index:032x}",
        },
        "dataVersion": "",
    }


def _registry_version(backend: Any, settings: Settings, tmp: Path) -> str:
    """A version registered by hand, as anyone with registry write access could, with
    gate tags holding hostile text (registry tags are outside input too)."""
    folder = tmp / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    gate = "\x1b[2J\x1b[32mpassed"
    reason = " ".join((HOSTILE[-2], *HOSTILE[:-2]))[:180]  # the markup first: shown in full
    version = backend.platform.register_model_dir(
        settings.model_name, folder, {"gate": gate, "gate_reason": reason}
    )
    return str(version.version)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("hostile-home")
    settings = Settings(home=home)
    backend = local_backend.build(settings)
    bootstrap.install(backend.deps)
    try:
        for index, text in enumerate(HOSTILE):
            delivery.invoke("on_blob_created", _blob_event(settings, text, index))
        malformed = _blob_event(settings, HOSTILE[0], 99)
        malformed["data"]["contentLength"] = "lots"  # refused by the parser: event.received
        malformed["subject"] += HOSTILE[5]
        delivery.invoke("on_blob_created", malformed)
        version = _registry_version(backend, settings, home)
        event = model_registered(settings.model_name, version)
        event["id"] = "evil-model-\x1b[2J\u202e"
        delivery.invoke("on_model_registered", event)
        for text in HOSTILE[-3:]:  # names lose control characters at the door; markup stays
            reader = principal_header(name=f"mallory {text}", roles=("MLOps.Reader",))
            body = {"model": settings.model_name, "version": "1", "reason": "hostile name"}
            route = {"endpoint": settings.endpoint_name}
            call("api_redeploy", principal=reader, route_params=route, body=body)
    finally:
        bootstrap.install(None)
        backend.close()
    yield home


def _records(home: Path) -> list[dict[str, Any]]:
    done = mlops(home, "audit", "--json")
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = json.loads(done.stdout)
    return records


def test_the_trail_keeps_the_hostile_strings_as_received(home: Path) -> None:
    records = _records(home)
    targets = "".join(r["target"] + r["actor"] + r["correlation_id"] for r in records)
    assert all(text in targets for text in HOSTILE)  # evidence is stored, not cleaned
    assert {r["outcome"] for r in records} == {"rejected"}


def test_audit_prints_one_inert_line_per_record(home: Path) -> None:
    count = len(_records(home))
    done = mlops(home, "audit")
    assert done.returncode == 0, done.stderr
    assert inert(done.stdout) == []
    lines = done.stdout.decode().splitlines()
    assert len(lines) == count + 1
    assert all(re.match(r"\d+ ", line) for line in lines[1:])
    assert "\\x1b[2J" in done.stdout.decode() and "\\u202e" in done.stdout.decode()


def _read_lines(process: subprocess.Popen[bytes], count: int, timeout: float) -> bytes:
    assert process.stdout is not None
    got, deadline = b"", time.monotonic() + timeout
    while got.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            got += chunk
    return got


def test_audit_follow_prints_the_same_inert_lines(home: Path) -> None:
    count = len(_records(home))
    follow = subprocess.Popen(
        [sys.executable, "-m", "shared.ops.cli", "--home", str(home), "audit", "--follow"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, **SETTINGS_ENV},
    )
    try:
        shown = _read_lines(follow, count + 1, timeout=60)
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=10) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert shown.count(b"\n") == count + 1
    assert inert(shown) == []


def test_explain_tells_the_story_in_inert_lines(home: Path) -> None:
    done = mlops(home, "explain", "evil-0005")
    assert done.returncode == 0, done.stderr
    assert inert(done.stdout) == []
    out = done.stdout.decode()
    assert "CRITICAL forged line" in out  # shown, but on the record's own line
    assert not any(line.startswith("2026-01-01") for line in out.splitlines())


def test_an_error_quoting_hostile_ids_is_one_inert_line(home: Path) -> None:
    done = mlops(home, "explain", "evil-0")  # ambiguous: the message lists trail ids
    assert done.returncode == 1
    assert inert(done.stderr) == []
    assert done.stderr.count(b"\n") == 1 and b"evil-0000-\\x1b[2J" in done.stderr


def test_status_shows_registry_tags_and_reasons_inert(home: Path) -> None:
    done = mlops(home, "status")
    assert done.returncode == 0, done.stderr
    assert inert(done.stdout) == []
    out = done.stdout.decode()
    # The hand-registered version's row shows the app's decision and reason, never its forged
    # tags (every cell's escaping is covered with hostile text below).
    assert "rejected" in out and "not produced by a training job" in out
    assert "[bold red]" not in out


def test_json_output_stays_raw_json(home: Path) -> None:
    for args in (("audit", "--json"), ("audit", "--jsonl"), ("explain", "evil-0005", "--json")):
        done = mlops(home, *args)
        assert done.returncode == 0 and inert(done.stdout) == []
    assert any("\x1b[2J" in r["target"] for r in _records(home))  # json escapes, keeps data


# Every cell of `status`, local and --url, with hostile text in every field ------------------


def _hostile_report(text: str) -> dict[str, Any]:
    deployment: dict[str, Any] = {"name": text, "model": text, "image": f"{text}@sha256:{'a' * 64}"}
    deployment |= {"state": text, "traffic": 100, "error": text}
    model: dict[str, Any] = {"version": text, "gate": text, "gate_reason": text, "registered": text}
    model |= dict.fromkeys(("accuracy", "precision", "recall", "f1", "roc_auc"))
    model |= {"decision": "rejected", "decision_reason": text, "deployments": [text]}
    rollout: dict[str, Any] = {
        "id": text,
        "operation_id": text,
        "kind": text,
        "model": text,
        "colour": text,
    }
    rollout |= {"phase": text, "phase_since": text, "requested_by": {"actor": text, "name": text}}
    recent = {"id": text, "kind": text, "model": text, "deployment": text, "phase": text}
    return {
        "endpoint": {"name": text, "traffic": {text: 100}, "deployments": [deployment]},
        "models": [model],
        "active_rollouts": [rollout],
        "recent_rollouts": [{**recent, "since": text}],
        "open_windows": [
            {"dataset": text, "blobs": 1, "opened": text, "due": text, "window_id": text}
        ],
        "jobs": [{"name": text, "status": text, "dataset": text, "submitted": text}],
        "pending_events": 0,
        "dead_letters": [text],
        "audit": {"records": 1, "chain_valid": False, "first_bad_seq": 1, "problem": text},
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_every_status_cell_is_inert_on_a_terminal(text: str) -> None:
    from rich.console import Console

    from shared.ops.render.tables import render, render_api

    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    report = _hostile_report(text)
    render(report, console)
    api_view = {**report["endpoint"], "deployments": report["endpoint"]["deployments"]}
    render_api([api_view], report["active_rollouts"], console)
    assert inert(out.getvalue().encode()) == []
    assert "skull" not in text or ":skull:" in out.getvalue()  # no emoji code applied


@pytest.mark.parametrize("text", HOSTILE)
def test_the_html_report_escapes_then_neutralises(text: str) -> None:
    from shared.ops.render.report.svg import esc

    shown = esc(text)
    assert shown.isprintable() and "<" not in shown and "\u202e" not in shown
