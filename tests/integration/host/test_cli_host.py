"""`mlops keys`, `mlops token`, `mlops upload` and `mlops send-event` against a running host."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.devhost.easyauth import EasyAuth, default_oid
from shared.devhost.host_keys import keys_path, load_signing_key, signing_key_path
from shared.ops.cli import main
from shared.ops.demo import data as demodata
from tests.conftest import model_registered, to_cloud
from tests.integration.host.hostproc import HostProcess, start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    running = start_host(tmp_path_factory.mktemp("cli-home"))
    yield running
    assert running.stop() == 0


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_are_created_once_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, tmp_path, "keys", "--json")
    assert code == 0
    keys = json.loads(out)
    assert set(keys) == {"masterKey", "functionKeys", "systemKeys"}
    assert set(keys["functionKeys"]) == {"default"}
    assert set(keys["systemKeys"]) == {"eventgrid_extension"}
    assert (
        len({keys["masterKey"], *keys["functionKeys"].values(), *keys["systemKeys"].values()}) == 3
    )
    load_signing_key(tmp_path)
    for path in (keys_path(tmp_path), signing_key_path(tmp_path)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_path(tmp_path).parent.stat().st_mode) == 0o700
    assert json.loads(run(capsys, tmp_path, "keys", "--json")[1]) == keys  # stable
    table = run(capsys, tmp_path, "keys")[1]
    assert f"systemKeys.eventgrid_extension   {keys['systemKeys']['eventgrid_extension']}" in table


def test_token_is_signed_with_the_home_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, tmp_path, "token", "--name", "alice", "--roles", "MLOps.Deployer, MLOps.Reader"
    )
    assert code == 0
    claims = EasyAuth(load_signing_key(tmp_path)).verify(out.strip())
    assert claims["name"] == "alice"
    assert claims["roles"] == ["MLOps.Deployer", "MLOps.Reader"]
    assert claims["oid"] == default_oid("alice")  # stable: the same name, the same oid
    assert uuid.UUID(claims["oid"]).version == 5
    assert 3590 <= claims["exp"] - claims["iat"] <= 3600
    oid = str(uuid.uuid4())
    short = run(capsys, tmp_path, "token", "--name", "bob", "--oid", oid, "--minutes", "5")[1]
    claims = EasyAuth(load_signing_key(tmp_path)).verify(short.strip())
    assert (claims["oid"], claims["roles"], claims["exp"] - claims["iat"]) == (oid, [], 300)
    assert run(capsys, tmp_path, "token", "--name", "x", "--minutes", "0")[0] == 2


def test_upload_puts_the_blob_and_delivers_its_event(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = demodata.write_tsv(tmp_path / "part-001.tsv", demodata.generate(50, seed=3))
    code, out, err = run(
        capsys, host.home, "upload", str(data), "--prefix", "spam/cli/", "--url", host.url, "--json"
    )
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["blob"].endswith("/training-data/spam/cli/part-001.tsv")
    [delivery] = report["deliveries"]
    assert (delivery["function"], delivery["status"]) == ("on_blob_created", 200)
    assert (host.home / "blobs" / "spam" / "cli" / "part-001.tsv").read_bytes() == data.read_bytes()
    [record] = host.audit(correlation_id=delivery["events"][0])
    assert (record.action, record.outcome) == ("data.received", "accepted")


def test_send_event_routes_by_the_routing_json(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = host.blob_event("spam/sent.csv", b"label,text\nham,hi\nspam,WIN\n")
    cloud = to_cloud(host.blob_event("spam/sent-2.csv", b"label,text\nham,hi\nspam,WIN\n"))
    for doc in (event, [cloud]):
        file = tmp_path / "event.json"
        file.write_text(json.dumps(doc))
        code, out, err = run(capsys, host.home, "send-event", str(file), "--url", host.url)
        assert (code, err) == (0, "")
        assert out.startswith("on_blob_created <- 1 event(s)") and out.strip().endswith(": 200")
    assert [r.outcome for r in host.audit(correlation_id=cloud["id"])] == ["accepted"]


def test_send_event_reports_failures_in_one_line(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(model_registered("spam-classifier", "99")))  # not registered
    code, out, err = run(capsys, host.home, "send-event", str(file), "--url", host.url, "--json")
    assert code == 1
    assert json.loads(out)["deliveries"][0]["status"] == 500
    assert err.count("\n") == 1 and "on_model_registered answered 500" in err

    unrouted = {**model_registered("m", "1"), "eventType": "Contoso.Unknown"}
    file.write_text(json.dumps(unrouted))
    code, _, err = run(capsys, host.home, "send-event", str(file), "--url", host.url)
    assert code == 1 and "--function" in err
    code, _, err = run(
        capsys,
        host.home,
        "send-event",
        str(file),
        "--function",
        "on_image_pushed",
        "--url",
        host.url,
    )
    assert code == 0  # delivered as asked; the function rejects it (audited, acknowledged)
    assert [r.outcome for r in host.audit(correlation_id=unrouted["id"])] == ["rejected"]


def test_send_event_to_no_host_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "event.json"
    file.write_text(json.dumps(model_registered("spam-classifier", "1")))
    code, _, err = run(capsys, tmp_path, "send-event", str(file), "--url", "http://127.0.0.1:9")
    assert code == 1
    assert err.startswith("mlops send-event: cannot reach the host at http://127.0.0.1:9")
    file.write_text("{not json")
    assert run(capsys, tmp_path, "send-event", str(file))[0] == 2


def test_serve_on_a_busy_port_fails_in_one_line(
    host: HostProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = host.url.rsplit(":", 1)[1]
    code, _, err = run(capsys, tmp_path, "serve", "--port", port)
    assert code == 1
    assert err.startswith(f"mlops serve: cannot listen on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


def test_upload_of_a_missing_file_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path, "upload", str(tmp_path / "nope.tsv"))
    assert (code, err) == (2, f"mlops upload: no such file: {tmp_path / 'nope.tsv'}\n")
