"""`mlops demo`: the whole life of a spam classifier on the local backend, narrated.

Every event goes through the local Event Grid into the functions registered in
``function_app.py``; the timer function is called as the host would call it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.functions.timer import TimerRequest

from shared import bootstrap
from shared.adapters.local import backend as local_backend
from shared.adapters.local import system_events as topics
from shared.adapters.local.backend import LocalBackend, local_topic
from shared.devhost.delivery import invoke
from shared.devhost.functions_registry import user_function
from shared.domain.audit import AuditRecord
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import BlobProperties
from shared.ops.cli.progress import Progress, Step, for_stream
from shared.ops.demo import data as demodata
from shared.ops.demo.users import DEMO_CANARY, Users, kill_canary
from shared.ops.render.report import build_report
from shared.ops.render.text import row, table
from shared.ops.views.status import in_flight, status_report
from shared.services.rollouts import ROLLOUT, active_rollout
from shared.settings import Settings

Rows = list[tuple[str, str]]
Say = Callable[[str], None]
MARKER = ".mlops-home"
SAMPLES = (
    "Hi mum, I'll be home for dinner around 7, shall I bring anything?",
    "WINNER! You've been selected for a £1000 cash prize. Call 09061743810 to claim now!",
    "Can we move our meeting to Thursday afternoon?",
    "URGENT: your account is suspended. Verify at http://secure-verify.example/login",
)


class DemoError(RuntimeError):
    pass


def run_demo(
    home: Path, data: Path | None, say: Say = print, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the story under ``home`` (wiped first if it is a demo home) and return the report.
    ``progress`` shows the waiting (default: a spinner on a terminal, else lines on stderr)."""
    _fresh_home(home, say)
    # The audit rows narrate the story; the same facts as log lines would only repeat them.
    logging.getLogger("mlops.events").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    settings = Settings(home=home, coalesce_quiet_seconds=1.0, **DEMO_CANARY)
    backend = local_backend.build(settings)
    bootstrap.install(backend.deps)
    story = _Story(backend, say, progress or for_stream())
    try:
        rows = _load_rows(data) if data else demodata.generate(4000, seed=7)
        say(f"data: {len(rows)} labelled messages from {data or 'the built-in generator'}")
        story.run(rows, None if data else _unseen(demodata.generate(1600, seed=8), rows)[:1000])
        return story.report(settings)
    finally:
        bootstrap.install(None)
        backend.close()


class _Idle:
    def update(self, detail: str) -> None:
        """Between steps nothing is shown."""


_NOTHING: Step = _Idle()


class _Story:
    def __init__(self, backend: LocalBackend, say: Say, progress: Progress) -> None:
        self.backend = backend
        self.say = say
        self.progress = progress
        self.waiting = _NOTHING
        self.settings = backend.settings
        self.storage_topic = local_topic(self.settings, "Microsoft.Storage/storageAccounts")
        self.acr_topic = local_topic(self.settings, "Microsoft.ContainerRegistry/registries")
        self.seen_seq = 0
        self.scores: list[dict[str, Any]] = []
        self.reconcile = user_function("reconcile_rollouts", "timerTrigger")
        self.crashed = ""  # the deployment the demo crashed, once it has
        endpoint = self.settings.endpoint_name
        self.users = Users(
            backend.platform,
            endpoint,
            lambda: active_rollout(endpoint, state=backend.deps.state),
            say,
        )

    def run(self, rows: Rows, later: Rows | None) -> None:
        first, second, third = _drops(rows, later)
        with self.step("1. A burst of training data lands: three files, one delivered five times"):
            events = [
                self.upload(f"spam/batch-1/part-{i + 1:03d}.tsv", part)
                for i, part in enumerate(_chunks(first, 3))
            ]
            for _ in range(4):  # Event Grid delivers at least once: the same event again
                self.backend.events.publish(events[0])
            self.pump()
        with self.step("2. Bad input is refused, audited, and starts nothing"):
            self.upload_bytes("misc/contacts.csv", b"name,phone\nann,0123\n", "text/csv")
            self.publish(self.forged_blob_event("spam/../../secrets/key.tsv"))
            self.publish(self.malformed_event())
        with self.step(
            "3. The quiet window closes: ONE training job, then blue/green to blue at 100%"
        ):
            self.settle()
        with self.step("4. A second, larger upload: v2 is smoke-tested, canaried at 10%, promoted"):
            for i, part in enumerate(_chunks(second, 2)):
                self.upload(f"spam/batch-2/part-{i + 1:03d}.tsv", part)
            self.settle()
        with self.step(
            "5. More good data: v3 passes its gate, crashes under canary: users' requests fail,"
            " rolled back on those live errors"
        ):
            self.upload("spam/batch-3/part-001.tsv", third)
            self.settle(during=self.crash_in_canary)
            if not self.crashed:
                self.say("  (no rollout reached its canary: nothing was crashed)")
        with self.step(
            "6. Scrambled labels pass their own split; the golden set fails the gate: rejected"
        ):
            self.upload("spam-relabelled/part-001.tsv", _relabelled(rows))
            self.settle()
        with self.step("7. A model registered by hand, without the training job's gate: rejected"):
            self.register_by_hand()
            self.settle()
        with self.step("8. A serving image is pushed: allow-listed and by digest rolls forward"):
            registry = self.settings.allowed_registries[0]
            self.push_image(registry, self.settings.allowed_repositories[0])
            self.settle()
            self.push_image("untrusted.example.io", "mlops/sklearn-serving")
            self.push_image(registry, "mlops/experimental")  # the route drops it (not routed)
            self.push_image(registry, self.settings.allowed_repositories[0], forged=True)
            self.settle()
        with self.step("9. Scoring through the endpoint (traffic-weighted routing)"):
            self.score()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """The story's heading on stdout; how long the step takes, and what it waits on,
        on the progress display (stderr)."""
        self.say(f"\n== {title} ==")
        with self.progress.step(title.split(":")[0]) as self.waiting:  # the heading's gist
            yield
        self.waiting = _NOTHING

    def upload(self, blob_path: str, rows: Rows) -> dict[str, Any]:
        data = demodata.tsv_bytes(rows)
        return self.upload_bytes(blob_path, data, "text/tab-separated-values", len(rows))

    def upload_bytes(
        self, blob_path: str, data: bytes, content_type: str, rows: int = 0
    ) -> dict[str, Any]:
        props = self.backend.blobs.upload(blob_path, data, content_type)
        self.say(f"  upload {blob_path} ({rows or len(data)} {'rows' if rows else 'bytes'})")
        event = topics.blob_created(self.storage_topic, props)
        self.publish(event)
        return event

    def forged_blob_event(self, blob_path: str) -> dict[str, Any]:
        """An event nobody uploaded for: its path climbs out of the dataset folder."""
        url = f"{self.settings.storage_account_url}/{self.settings.training_container}/{blob_path}"
        props = BlobProperties(url, 120, "text/tab-separated-values", '"0x8DD0F00DCAFE"')
        self.say(f"  forged event for {blob_path}")
        return topics.blob_created(self.storage_topic, props)

    def malformed_event(self) -> dict[str, Any]:
        """Routed like a real upload, but its data has no url, eTag or size."""
        self.say("  malformed event: BlobCreated without a blob url")
        subject = (
            f"/blobServices/default/containers/{self.settings.training_container}/blobs/spam/x.tsv"
        )
        return {
            "id": "malformed-1",
            "topic": self.storage_topic,
            "subject": subject,
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-11-26T10:02:00Z",
            "data": {"api": "PutBlob"},
            "dataVersion": "",
        }

    def publish(self, event: dict[str, Any]) -> None:
        self.backend.events.publish(event)
        self.pump()

    def push_image(self, registry: str, repository: str, *, forged: bool = False) -> None:
        """Push a manifest to the local registry, then publish its event; ``forged`` only
        publishes an event, for a digest nobody pushed (the app asks the registry first)."""
        if forged:
            digest = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()
            self.say(f"  forged event: {registry}/{repository}@{digest[:19]}…, never pushed")
        else:
            digest = self.backend.registry.push(registry, repository).digest
            self.say(f"  push {registry}/{repository}@{digest[:19]}…")
        self.publish(
            topics.image_pushed(self.acr_topic, registry, repository, digest=digest, tag="1.4.2")
        )

    def register_by_hand(self) -> None:
        """Copy the serving model's files into a new version with no gate tags, as someone
        bypassing the training job would: the gate refuses what the job did not vouch for."""
        platform, name = self.backend.platform, self.settings.endpoint_name
        serving = platform.get_deployment(name, platform.get_endpoint(name).serving or "").model
        version = platform.register_model_dir(
            self.settings.model_name, platform.model_path(serving), {"owner": "someone"}
        )
        self.say(f"  registered {version.ref} by hand, without gate tags")
        self.pump()

    def crash_in_canary(self) -> None:
        """The fault, once a new deployment takes its canary share (users.kill_canary)."""
        endpoint = self.settings.endpoint_name
        rollout = active_rollout(endpoint, state=self.backend.deps.state)
        if not self.crashed and rollout is not None and rollout.phase is Phase.CANARY:
            percent = self.settings.canary_percent
            self.crashed = kill_canary(self.backend.platform, rollout, percent, self.say)

    def pump(self) -> None:
        self.backend.events.pump(invoke)
        self.tail()

    def tail(self) -> None:
        for record in self.backend.audit.records():
            if record.seq > self.seen_seq:
                self.say("  " + row(record))
                self.seen_seq = record.seq

    def settle(self, timeout: float = 180.0, during: Callable[[], None] | None = None) -> None:
        """Run the host's loop (deliveries and the timer) until nothing is in flight,
        showing what is still in flight (training, a deployment becoming healthy, ...);
        ``during`` runs on every turn (the demo's fault injection)."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise DemoError("the pipeline did not settle in time; see `mlops audit`")
            self.pump()
            self.reconcile(TimerRequest())
            self.tail()
            if during is not None:
                during()
            self.users.visit()  # users' requests during any canary: what it is judged on
            busy = in_flight(self.backend.deps, self.backend.events.pending())
            self.waiting.update("; ".join(busy))
            quiet = 0 if busy else quiet + 1
            time.sleep(0.3)

    def score(self) -> None:
        for text in SAMPLES:
            answer = self.backend.platform.invoke(self.settings.endpoint_name, {"data": [text]})
            prediction = answer["predictions"][0]
            model = answer["model"]
            self.scores.append({"text": text, **prediction, "served_by": model})
            self.say(
                f"  {prediction['label']:>5} p={prediction['probability']:.3f} "
                f"[{model['deployment']} {model['name']}:{model['version']}] {text[:60]}"
            )

    def report(self, settings: Settings) -> dict[str, Any]:
        deps, audit = self.backend.deps, self.backend.audit
        records = audit.records()
        self.say("\n== 10. The audit trail ==\n" + table(records))
        chain = audit.verify()
        self.say(
            f"\nmlops audit verify: {'valid' if chain.valid else 'BROKEN'}, {chain.records} records"
        )
        endpoint = deps.platform.get_endpoint(settings.endpoint_name)
        report = {
            "endpoint": endpoint.name,
            "traffic": dict(endpoint.traffic),
            "deployments": [
                {"name": d.name, "model": str(d.model), "image": d.image, "state": d.state}
                for d in endpoint.deployments
            ],
            "models": [
                {
                    "version": m.version,
                    **{
                        k: m.tags.get(k)
                        for k in (
                            "gate",
                            "gate_reason",
                            "accuracy",
                            "precision",
                            "recall",
                            "f1",
                            "roc_auc",
                        )
                    },
                }
                for m in deps.platform.list_models(settings.model_name)
            ],
            "rollouts": [
                _rollout_summary(Rollout.from_dict(s.value)) for s in deps.state.list(ROLLOUT)
            ],
            "audit_records": chain.records,
            "audit_chain_valid": chain.valid,
            "dead_letters": len(self.backend.events.dead_letters()),
            "sample_scores": self.scores,
        }
        path = settings.home / "demo-report.json"
        path.write_text(json.dumps(report, indent=2, sort_keys=False))
        page = settings.home / "demo-report.html"
        page.write_text(
            build_report(records, status_report(self.backend, chain), chain, datetime.now(UTC))
        )
        self.say(f"report: {path}\ncharts: {page} (open it in a browser; nothing is fetched)")
        self.say(_next_steps(settings.home, records))
        return report


def _next_steps(home: Path, records: Sequence[AuditRecord]) -> str:
    """What to try on this trail, with its real ids."""
    upload = next(r for r in records if r.action == "data.received" and r.outcome == "accepted")
    rolled_back = next((r for r in records if r.action == "rollout.rolled_back"), None)
    steps = [
        ("status", "what serves, model metrics, what is in flight"),
        (f"explain {upload.correlation_id[:8]}", "the first upload, from event to serving"),
        ("audit --outcome rejected", "everything refused, and why"),
    ]
    if rolled_back:
        model = rolled_back.target.split()[-1].replace(":", "@")
        steps.append((f"explain {model}", "the model that was rolled back"))
    width = max(len(command) for command, _ in steps)
    lines = [f"  mlops --home {home} {cmd:<{width}}  # {why}" for cmd, why in steps]
    return "\n".join(["\n== Next: ask the trail ==", *lines])


def _rollout_summary(rollout: Rollout) -> dict[str, Any]:
    return {
        "id": rollout.id,
        "kind": rollout.kind,
        "model": str(rollout.model),
        "image": rollout.image,
        "deployment": rollout.colour,
        "final_phase": rollout.phase.value,
        "path": [step.phase.value for step in rollout.history],
        "last_note": rollout.history[-1].note if rollout.history else "",
    }


def _fresh_home(home: Path, say: Say) -> None:
    """Start clean, but only wipe a folder this tool created."""
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise DemoError(f"{home} is not empty and was not made by mlops; choose another")
        say(f"resetting {home}")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("created by mlops; `mlops demo` may reset this folder\n")


def _load_rows(path: Path) -> Rows:
    """A user's own label/text file (CSV, TSV or JSONL)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".jsonl":
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        items = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    if not items or not {"label", "text"} <= set(items[0]):
        raise DemoError(f"{path} needs 'label' and 'text' columns")
    return [(str(item["label"]), str(item["text"])) for item in items]


def _drops(rows: Rows, later: Rows | None) -> tuple[Rows, Rows, Rows]:
    """The three good uploads v1, v2 and v3 train on: ``rows`` cut 2:3 and ``later``, or a
    user's own file cut 32:48:20 when there is nothing later."""
    if later is not None:
        cut = len(rows) * 2 // 5
        return rows[:cut], rows[cut:], later
    one, two = len(rows) * 8 // 25, len(rows) * 4 // 5
    return rows[:one], rows[one:two], rows[two:]


def _unseen(rows: Rows, seen: Rows) -> Rows:
    """The generator repeats itself across seeds: keep only messages not uploaded before, so
    the later drop is new data, not copies the job would drop as duplicates."""
    known = {text for _, text in seen}
    return [(label, text) for label, text in rows if text not in known]


def _chunks(rows: Rows, parts: int) -> list[Rows]:
    size = -(-len(rows) // parts)
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _relabelled(rows: Rows) -> Rows:
    """Every label moved to the next one: a data drop with its labels scrambled."""
    labels = sorted({label for label, _ in rows})
    shift = {label: labels[(i + 1) % len(labels)] for i, label in enumerate(labels)}
    return [(shift[label], text) for label, text in rows]
