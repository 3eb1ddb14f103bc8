"""`make bench`'s table: the README's numbers are the block rendered from bench/results.json,
rows carry their goal and verdict, and re-running one benchmark replaces only its rows."""

from __future__ import annotations

import pytest

from bench import table


def test_the_readme_block_is_what_results_json_renders() -> None:
    readme = table.README.read_text()
    assert table.block(readme) == table.markdown(table.load()), "run `python -m bench.table`"


def test_every_row_has_the_shape_and_a_verdict_only_beside_a_goal() -> None:
    for row in table.load()["rows"]:
        assert set(row) - {"bench"} == set(table.Row.__annotations__), row
        assert (row["met"] is None) == (not row["goal"]), row


def test_a_rerun_replaces_its_own_rows_in_place() -> None:
    old = [
        {**table.row("a", 1), "bench": "x.py"},
        {**table.row("b", 2), "bench": "y.py"},
        {**table.row("c", 3), "bench": "x.py"},
    ]
    merged = table.merged(old, "x.py", [table.row("a2", 4)])
    assert [r["figure"] for r in merged] == ["a2", "b"]
    assert [r["figure"] for r in table.merged(old, "z.py", [table.row("d", 5)])][-1] == "d"


def test_values_are_shown_with_their_unit() -> None:
    assert table.shown(table.row("f", 20350.4, "texts/s")) == "20,350 texts/s"
    assert table.shown(table.row("f", 0.0002, "s")) == "0.0002 s"
    assert table.shown(table.row("f", 0.138, "×")) == "0.138×"
    assert table.shown(table.row("f", None, "s")) == "not measured"


def test_a_readme_without_exactly_one_block_is_refused() -> None:
    results = {"machine": {"cpus": 2, "python": "3.13"}, "measured": "today", "rows": []}
    with pytest.raises(ValueError, match="exactly one"):
        table.rewrite("no block here", results)
