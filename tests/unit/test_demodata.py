"""The demo data generator: reproducible, varied, balanced as asked, and writable as TSV."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from shared.ops.demo import data as demodata


def test_same_seed_gives_same_rows_and_other_seeds_differ() -> None:
    assert demodata.generate(300, seed=7) == demodata.generate(300, seed=7)
    assert demodata.generate(300, seed=7) != demodata.generate(300, seed=8)


def test_rows_are_distinct_labelled_and_near_the_requested_spam_share() -> None:
    rows = demodata.generate(4000, seed=1, spam_fraction=0.15)
    counts = Counter(label for label, _ in rows)
    assert len(rows) == 4000
    assert set(counts) == {"ham", "spam"}
    assert 0.12 < counts["spam"] / len(rows) < 0.18
    assert len({text for _, text in rows}) == len(rows)


def test_messages_vary_in_content_and_form() -> None:
    texts = [text for _, text in demodata.generate(2000, seed=3)]
    assert any("www." in t.lower() for t in texts)  # urls
    assert any(t.isupper() for t in texts)  # shouting
    assert any(t.islower() for t in texts)  # lazy casing
    assert any(" u " in f" {t} " for t in texts)  # abbreviations
    assert len({t.split()[0].lower() for t in texts}) > 50  # many different openings


def test_write_tsv_round_trips_without_tabs_or_newlines(tmp_path: Path) -> None:
    rows = [("ham", "see you\tat 7\nok"), *demodata.generate(50, seed=2)]
    path = demodata.write_tsv(tmp_path / "nested" / "data.tsv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\ttext"
    assert lines[1] == "ham\tsee you at 7 ok"
    assert all(line.count("\t") == 1 for line in lines)
    assert len(lines) == len(rows) + 1
