"""What schemathesis found against the manual API (issue 16), kept as plain tests: the OpenAPI
document states every rule the code enforces, so a request it calls valid is never refused
400, and its links lead where they say.

JSON Schema patterns are ECMA-262, where `$` ends the string; Python's `re.search` would also
let it match before a final newline, so the document's patterns are read here as the
whole-string matches they mean.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.api.openapi import document
from shared.domain.api_requests import (
    DATASET_MAX_CHARS,
    HIDDEN_RANGES,
    check_dataset_name,
    check_idempotency_key,
    is_endpoint_name,
    is_operation_id,
    parse_rollback,
)
from shared.domain.errors import Rejected
from shared.domain.events import invisible
from tests.conftest import World
from tests.unit.test_api_helpers import ENDPOINT, MODEL, call, serve
from tests.unit.test_api_openapi import documented_routes


def documented(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def schema_accepts_reason(reason: str) -> bool:
    schema = document()["components"]["schemas"]["RollbackRequest"]["properties"]["reason"]
    return schema["minLength"] <= len(reason) <= schema["maxLength"] and documented(
        schema["pattern"], reason
    )


def code_accepts_reason(reason: str) -> bool:
    try:
        parse_rollback({"reason": reason})
    except Rejected:
        return False
    return True


REASONS = [
    "ok",
    " padded ",
    "fine 😀 ✓ ß ¾",
    # What schemathesis sent, as it sent it: U+000F and U+0087 are control characters.
    json.loads(r'"\u00b4\u000f\ud9ef\udfcb"'),
    json.loads(r'"\ud8ba\udfa7\u00be9\u0087\u00bb"'),
    "a\n",
    "a\u200b",  # zero-width space (Cf)
    "a\u2028b",  # line separator (Zl)
    "\u202etxt.exe",  # right-to-left override (Cf)
    "a\U000e0041",  # a tag character (Cf)
    "a\U00013439",  # Cf from Unicode 15 on; refused on every Python alike
    " ",
    "\u3000\u00a0",  # spaces only (Zs)
    "",
    "x" * 500,
    "x" * 501,
    " " + "x" * 499,
    " " + "x" * 500,
]


@pytest.mark.parametrize("reason", REASONS)
def test_the_documented_reason_rule_is_the_one_the_code_enforces(reason: str) -> None:
    assert schema_accepts_reason(reason) == code_accepts_reason(reason)


def test_every_character_this_python_calls_hidden_is_in_the_documented_rule() -> None:
    listed = {code for low, high in HIDDEN_RANGES for code in range(low, high + 1)}
    hidden = {code for code in range(sys.maxunicode + 1) if invisible(chr(code))}
    assert hidden <= listed


@pytest.mark.parametrize(
    ("parameter", "good", "bad"),
    [
        ("endpoint", ["spam-endpoint", "abc"], ["ab", "1abc", "a" * 33, "abc\n", "a_b"]),
        (
            "operationId",
            ["ro-" + "0" * 20, "tr-" + "f" * 20],
            ["ro-" + "0" * 19, "ro-" + "A" * 20, "x", "tx-" + "0" * 20, "tr-" + "0" * 21],
        ),
        ("idempotencyKey", ["k", "a.b:c-d_e", "k" * 128], ["", "k" * 129, "a b", "é"]),
    ],
)
def test_the_documented_parameter_patterns_are_the_codes(
    parameter: str, good: list[str], bad: list[str]
) -> None:
    pattern = document()["components"]["parameters"][parameter]["schema"]["pattern"]
    checks: dict[str, Callable[[str], bool]] = {
        "endpoint": is_endpoint_name,
        "operationId": is_operation_id,
        "idempotencyKey": lambda value: code_accepts(check_idempotency_key, value),
    }
    for value in good + bad:
        assert documented(pattern, value) == checks[parameter](value) == (value in good), value


def code_accepts(check: Callable[[str], object], value: str) -> bool:
    try:
        check(value)
    except Rejected:
        return False
    return True


def test_a_reused_idempotency_key_is_a_documented_422_on_both_posts() -> None:
    doc = document()
    for path in ("/api/endpoints/{endpoint}/deployments", "/api/endpoints/{endpoint}/rollback"):
        assert doc["paths"][path]["post"]["responses"]["422"] == {
            "$ref": "#/components/responses/Unprocessable"
        }
    assert "Idempotency-Key" in doc["components"]["responses"]["Unprocessable"]["description"]
    assert "(422)" in doc["components"]["parameters"]["idempotencyKey"]["description"]


def test_every_operation_declares_what_the_host_answers_before_the_function() -> None:
    doc = document()
    for path, method in documented_routes():
        assert {"400", "408", "413", "500"} <= set(doc["paths"][path][method]["responses"])


def test_the_host_refusal_body_is_a_documented_error() -> None:
    error = {"$ref": "#/components/schemas/Error", "components": document()["components"]}
    validator = jsonschema.Draft202012Validator(error)
    assert validator.is_valid({"error": "authentication required"})
    assert validator.is_valid({"error": "not_found", "message": "unknown endpoint"})
    assert not validator.is_valid({"message": "no code"})


def follow(link: dict[str, Any], body: dict[str, Any]) -> dict[str, str]:
    """A link's parameters with their ``$response.body#/pointer`` expressions resolved."""
    values = {}
    for name, expression in link["parameters"].items():
        node: Any = body
        for part in expression.removeprefix("$response.body#/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        values[name] = node
    return values


def test_a_202_links_to_its_operation_and_the_link_leads_there(world: World) -> None:
    serve(world, "1", "2")
    doc = document()
    operations = {
        item[method]["operationId"]: (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post"}
    }
    accepted = call(
        "api_redeploy",
        route_params={"endpoint": ENDPOINT},
        body={"model": MODEL, "version": "1", "reason": "back to 1", "supersede": True},
    )
    assert accepted.status == 202
    links = [
        doc["paths"][path]["post"]["responses"]["202"]["links"]["getOperation"]
        for path, _ in (operations["redeploy"], operations["rollback"])
    ]
    assert links[0] == links[1]
    assert operations[links[0]["operationId"]] == ("/api/operations/{operation_id}", "get")
    answer = call("api_get_operation", route_params=follow(links[0], accepted.body))
    assert (answer.status, answer.body["operation_id"]) == (200, accepted.body["operation_id"])


def test_the_endpoint_links_lead_from_the_list_to_the_endpoint_and_its_posts(world: World) -> None:
    serve(world, "1")
    doc = document()
    listed = call("api_list_endpoints")
    to_endpoint = doc["paths"]["/api/endpoints"]["get"]["responses"]["200"]["links"]
    endpoint = call(
        "api_get_endpoint", route_params=follow(to_endpoint["getEndpoint"], listed.body)
    )
    assert endpoint.status == 200
    onwards = doc["paths"]["/api/endpoints/{endpoint}"]["get"]["responses"]["200"]["links"]
    assert {link["operationId"] for link in onwards.values()} == {"redeploy", "rollback"}
    assert follow(onwards["rollback"], endpoint.body) == {"endpoint": ENDPOINT}


def dataset_schema() -> dict[str, Any]:
    schema: dict[str, Any] = document()["components"]["parameters"]["dataset"]["schema"]
    return schema


def documented_dataset(name: str) -> bool:
    schema = dataset_schema()
    return schema["minLength"] <= len(name) <= schema["maxLength"] and documented(
        schema["pattern"], name
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(re.compile(dataset_schema()["pattern"]), fullmatch=True))
def test_every_dataset_name_the_document_allows_is_accepted(name: str) -> None:
    """A request the document calls valid is never refused 400 (schemathesis's promise)."""
    if len(name) <= DATASET_MAX_CHARS:
        assert code_accepts(check_dataset_name, name), name


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("spam", True),
        ("sms 2026", True),
        (".hidden", True),
        ("é" * 125, True),  # 250 UTF-8 bytes: accepted, longer than the schema says
        ("x" * 63, True),
        ("100%", True),  # only %2F, %5C, %2E are refused; the schema leaves out every '%'
        ("", False),
        (".", False),
        ("..", False),
        ("spam.", False),
        ("a/b", False),
        ("a\\b", False),
        ("a%2Fb", False),
        ("a%2eb", False),
        ("a\nb", False),
        ("a\u202eb", False),
        ("a\u200bb", False),
        ("\ue000", False),
        ("\U00100000", False),
        ("é" * 126, False),  # 252 UTF-8 bytes
    ],
)
def test_what_the_code_refuses_the_document_refuses_too(name: str, accepted: bool) -> None:
    assert code_accepts(check_dataset_name, name) == accepted
    if not accepted:
        assert not documented_dataset(name), name


def test_a_train_202_links_to_its_operation_and_the_link_leads_there(world: World) -> None:
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    doc = document()
    post = doc["paths"]["/api/datasets/{dataset}/train"]["post"]
    accepted = call("api_train", route_params={"dataset": "spam"}, body={"reason": "retrain"})
    assert accepted.status == 202
    link = post["responses"]["202"]["links"]["getOperation"]
    assert link["operationId"] == "getOperation"
    answer = call("api_get_operation", route_params=follow(link, accepted.body))
    assert (answer.status, answer.body["kind"]) == (200, "train")
    location = post["responses"]["202"]["headers"]["Location"]["schema"]["pattern"]
    assert documented(location, accepted.headers["location"])
