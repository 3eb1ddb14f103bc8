"""Use cases receive the ports their signature names, and only those (decision 251)."""

from __future__ import annotations

from typing import Any

import pytest

from shared import bootstrap
from shared.ports import Clock, StateStore
from shared.services.injection import asks_for, inject
from tests.conftest import World


def test_a_use_case_receives_exactly_the_ports_it_names(world: World) -> None:
    seen: dict[str, Any] = {}

    def use_case(event: str, *, state: StateStore, clock: Clock, **rest: Any) -> str:
        seen.update(state=state, clock=clock, rest=rest)
        return event

    assert bootstrap.call(use_case, "e1") == "e1"
    assert seen == {"state": world.deps.state, "clock": world.deps.clock, "rest": {}}


def test_a_keyword_with_a_default_is_the_callers_to_pass(world: World) -> None:
    def use_case(*, state: StateStore, actor: str = "app") -> str:
        return actor

    assert asks_for(use_case)[0] == ("state",)
    assert bootstrap.call(use_case) == "app"
    assert bootstrap.call(use_case, actor="alice") == "alice"


def test_asking_for_an_unknown_name_fails_at_injection_not_mid_use_case(world: World) -> None:
    ran: list[str] = []

    def use_case(*, state: StateStore, blob_store: object) -> None:
        ran.append("ran")

    with pytest.raises(TypeError, match=r"use_case asks for blob_store: no such dependency"):
        inject(use_case, world.deps)()
    assert ran == []


def test_the_callers_keywords_are_passed_but_a_port_cannot_be_overridden(world: World) -> None:
    def use_case(*, state: StateStore, actor: str) -> str:
        return actor

    assert bootstrap.call(use_case, actor="alice") == "alice"
    with pytest.raises(TypeError, match="state is injected, not passed"):
        bootstrap.call(use_case, actor="alice", state=world.deps.state)


def test_positional_parameters_are_never_injected(world: World) -> None:
    def use_case(state: object) -> object:  # positional: the caller's, even if named a port
        return state

    assert asks_for(use_case) == ((), frozenset())
    assert bootstrap.call(use_case, "mine") == "mine"
