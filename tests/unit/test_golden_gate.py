"""The golden set and the gate on it (training/src/evaluation.py, train.py).

A data drop whose labels are wrong throughout looks perfect on its own held-out split; the
fixed, hand-labelled golden set shipped with the training code is what fails it. The gate
holds absolute floors there and lets the challenger trail the champion by a margin only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.project_files import load_smoke_set
from shared.ops.demo import data as demodata

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "training" / "src"))

import train  # noqa: E402
from evaluation import (  # noqa: E402
    GOLDEN_MARGIN,
    GOLDEN_SET,
    decide_gate,
    golden_metrics,
    load_golden_set,
)

GOOD = {"accuracy": 0.98, "f1": 0.95}
SWAP = {"ham": "spam", "spam": "ham"}


def test_the_golden_set_is_balanced_distinct_and_apart_from_the_smoke_set() -> None:
    texts, labels = load_golden_set()
    assert labels.count("spam") == labels.count("ham") == len(labels) // 2 >= 20
    assert len(set(texts)) == len(texts)
    smoke = {text for _, text in load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")}
    assert not smoke & set(texts)
    assert GOLDEN_SET.parent == REPO_ROOT / "training" / "src"  # in the job's code snapshot


def test_a_golden_set_without_labels_or_texts_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "golden.tsv"
    bad.write_text("label\ttext\nspam\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="non-empty 'label' and 'text'"):
        load_golden_set(bad)


@pytest.mark.parametrize(
    ("golden", "champion_golden", "verdict", "words"),
    [
        (None, None, "passed", "no champion"),  # no golden set given: the held-out split alone
        ({"accuracy": 0.96, "f1": 0.95}, None, "passed", "golden set f1 0.9500"),
        ({"accuracy": 0.06, "f1": 0.11}, None, "failed", "golden accuracy 0.0600 < floor"),
        ({"accuracy": 0.90, "f1": 0.80}, None, "failed", "golden f1 0.8000 < floor"),
        ({"accuracy": float("nan"), "f1": 0.9}, None, "failed", "golden accuracy nan"),
        ({"problem": "labels are not the classes"}, None, "failed", "labels are not the classes"),
        (
            {"accuracy": 0.90, "f1": 0.90},
            {"accuracy": 1.0, "f1": 1.0},
            "failed",
            "golden accuracy 0.9000 < champion 1.0000",
        ),
        ({"accuracy": 0.96, "f1": 0.96}, {"accuracy": 1.0, "f1": 1.0}, "passed", "golden set"),
        ({"accuracy": 0.96, "f1": 0.96}, {"problem": "x"}, "passed", "golden set"),
    ],
)
def test_the_gate_on_the_golden_set(
    golden: dict[str, Any] | None,
    champion_golden: dict[str, Any] | None,
    verdict: str,
    words: str,
) -> None:
    champion = GOOD if champion_golden is not None else None
    got, reason = decide_gate(GOOD, champion, golden, champion_golden)
    assert (got, words in reason) == (verdict, True), reason


def test_the_margin_is_a_couple_of_golden_messages() -> None:
    _, labels = load_golden_set()
    assert 1 / len(labels) < GOLDEN_MARGIN < 3 / len(labels)


class _OtherClasses:
    classes_ = ("negative", "positive")


def test_a_model_of_other_classes_cannot_be_judged_on_this_golden_set() -> None:
    found = golden_metrics(_OtherClasses(), load_golden_set(), None)
    assert "--golden-set" in found["problem"]


def _train(rows: list[tuple[str, str]], out: Path, *extra: str) -> dict[str, Any]:
    data = demodata.write_tsv(out / "data.tsv", rows)
    assert train.main(["--data", str(data), "--model-output", str(out / "job"), *extra]) == 0
    gate: dict[str, Any] = json.loads((out / "job" / "gate.json").read_text(encoding="utf-8"))
    return gate


def test_the_demo_s_scrambled_drop_fails_the_gate_against_a_good_champion(tmp_path: Path) -> None:
    rows = demodata.generate(1500, seed=7)
    champion = _train(rows, tmp_path / "v1")
    assert champion["gate"] == "passed" and champion["golden_metrics"]["accuracy"] >= 0.9
    model = str(tmp_path / "v1" / "job" / "model")
    scrambled = _train([(SWAP[y], t) for y, t in rows], tmp_path / "v2", "--champion", model)
    assert scrambled["metrics"]["accuracy"] > scrambled["champion_metrics"]["accuracy"]  # fooled
    assert scrambled["gate"] == "failed"
    assert "golden accuracy" in scrambled["reason"] and "< champion" in scrambled["reason"]
    assert scrambled["champion_golden_metrics"]["accuracy"] >= 0.9


def test_another_golden_set_can_be_given(tmp_path: Path) -> None:
    golden = tmp_path / "golden.tsv"
    rows = [("good" if y == "ham" else "bad", t) for y, t in demodata.generate(60, seed=9)]
    demodata.write_tsv(golden, rows)
    data = [("good" if y == "ham" else "bad", t) for y, t in demodata.generate(900, seed=3)]
    gate = _train(data, tmp_path, "--golden-set", str(golden))
    assert "problem" not in gate["golden_metrics"]
    assert gate["golden_metrics"]["test_rows"] == 60 and gate["golden_metrics"]["accuracy"] > 0.9
