"""Property tests for the one event parser (issue 12, section 3), with hypothesis.

Whatever arrives, ``parse_batch`` and ``parse_event`` give events or ``Rejected``, never
another exception; what the worker's trigger converter hands a function parses to the same
event as the JSON it came from; and an image's identity does not depend on how the
registry host is spelled.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions._event_grid import as_raw_event
from shared.devhost.delivery import to_trigger_event
from shared.domain.errors import Rejected
from shared.domain.events import ImagePushed, parse_batch, parse_event
from shared.domain.untrusted_json import MAX_DEPTH, loads
from tests.conftest import to_cloud
from tests.unit.test_events import BLOB_EG, IMAGE_CE, MODEL_CE, VALIDATION_EG

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLES = [BLOB_EG, to_cloud(BLOB_EG), MODEL_CE, IMAGE_CE, VALIDATION_EG]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def refused_or_events(body: Any) -> list[Any]:
    try:
        return parse_batch(body)
    except Rejected:
        return []


@EXAMPLES
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_batch_or_refused(body: bytes) -> None:
    for event in refused_or_events(body):
        assert isinstance(event, dict)


@EXAMPLES
@given(json_values)
def test_any_json_value_is_a_batch_or_refused(document: Any) -> None:
    for body in (document, json.dumps(document)):
        for event in refused_or_events(body):
            with contextlib.suppress(Rejected):
                parse_event(event)


@EXAMPLES
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", '{"a":']))
def test_nesting_is_refused_past_the_cap_at_any_depth(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    try:
        loads(text.encode())
    except Rejected:
        assert depth > MAX_DEPTH
    else:
        assert depth <= MAX_DEPTH


@EXAMPLES
@given(st.integers(min_value=1, max_value=6000), st.booleans())
def test_integers_are_bounded_by_digits_not_by_the_interpreter(digits: int, negative: bool) -> None:
    text = ("-" if negative else "") + "9" * digits
    try:
        value = loads(f'{{"n": {text}}}'.encode())
    except Rejected:
        assert digits > 20
    else:
        assert abs(value["n"]) == int("9" * digits)


@EXAMPLES
@given(
    sample=st.sampled_from(SAMPLES),
    path=st.lists(
        st.sampled_from(
            [
                "data",
                "target",
                "request",
                "url",
                "id",
                "subject",
                "specversion",
                "eventType",
                "type",
                "modelVersion",
                "contentLength",
                "eventTime",
                "time",
                "host",
                "digest",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=json_values,
)
def test_any_field_replaced_by_anything_parses_or_is_refused(
    sample: dict[str, Any], path: list[str], value: Any
) -> None:
    event = copy.deepcopy(sample)
    node: Any = event
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node[path[-1]] = value
    with contextlib.suppress(Rejected):
        parse_event(event)


@EXAMPLES
@given(sample=st.sampled_from(SAMPLES[:4]), text=st.text(max_size=40))
def test_the_worker_path_parses_to_what_the_json_parses_to(
    sample: dict[str, Any], text: str
) -> None:
    event = copy.deepcopy(sample)
    event["id"] = text or "x"
    try:
        direct = parse_event(event)
    except Rejected:
        direct = None
    try:
        via_worker = parse_event(as_raw_event(to_trigger_event(event)))
    except Rejected:
        via_worker = None
    if direct is None or via_worker is None:
        assert direct is via_worker is None
        return
    assert direct.meta.time is not None and via_worker.meta.time is not None
    # The converter keeps six of the seven fractional digits Event Grid sends.
    assert abs(direct.meta.time - via_worker.meta.time) < timedelta(microseconds=1)
    assert replace(direct, meta=replace(direct.meta, time=None)) == replace(
        via_worker, meta=replace(via_worker.meta, time=None)
    )


@EXAMPLES
@given(flips=st.lists(st.booleans(), min_size=23, max_size=23))
def test_an_images_identity_ignores_the_case_of_the_registry_host(flips: list[bool]) -> None:
    host = "contosomlops.azurecr.io"
    spelled = "".join(c.upper() if flip else c for c, flip in zip(host, flips, strict=False))
    event = copy.deepcopy(IMAGE_CE)
    event["data"]["request"]["host"] = spelled
    parsed = parse_event(event)
    assert isinstance(parsed, ImagePushed)
    assert parsed.registry == spelled  # kept as received
    assert parsed.image.startswith(host + "/")
    canonical = parse_event(IMAGE_CE)
    assert isinstance(canonical, ImagePushed)
    assert parsed.business_key == canonical.business_key
