"""Hostile state keys on Azure Tables (Azurite): every key round-trips through point reads,
compare-and-set updates and prefix lists, and what is stored needs no percent-decoding."""

from __future__ import annotations

import re

import pytest

from shared.adapters.azure._table_keys import decode_key, encode_key
from shared.adapters.azure.state_store import AzureStateStore
from tests.azurite import Azurite
from tests.integration.azure.helpers import fresh_table

HOSTILE = [
    "100%",
    "%",
    "a%2Fb",  # decodes to "a/b" if anything percent-decodes twice
    "%252F",
    "%zz",
    "~",
    "~2F",  # looks like an escape of ours
    "a~b",
    "it's",
    "''",
    "a+b c",
    "/\\#?",
    "tab\tnl\ncr\r\x00\x1f\x7f\x9f",
    "café ☃ 𝄞 日本語",
    "https://contosodata.blob.core.windows.net/training-data/spam/a.csv@0x8D1",
    "𝄞" * 100,  # 400 bytes of UTF-16 once stored
    "/" * 80,  # 240 characters once escaped
]
# What Table storage stores as it is: no '%', nothing the key rules forbid.
_STORED = re.compile(r"^[^%/\\#?\x00-\x1f\x7f-\x9f]*$")


@pytest.mark.parametrize("key", HOSTILE)
def test_encoding_is_reversible_and_needs_no_percent_decoding(key: str) -> None:
    encoded = encode_key(key)
    assert _STORED.match(encoded), encoded
    assert decode_key(encoded) == key
    assert encode_key(key[:3]) == encoded[: len(encode_key(key[:3]))]  # prefixes stay prefixes


def test_a_key_over_one_kib_of_utf16_is_refused_clearly() -> None:
    assert decode_key(encode_key("𝄞" * 256)) == "𝄞" * 256  # 1,024 bytes: the limit
    with pytest.raises(ValueError, match="1026 bytes"):
        encode_key("𝄞" * 256 + "x")
    with pytest.raises(ValueError, match="limit is 1024"):
        encode_key("/" * 171)  # 513 characters once escaped


def test_hostile_keys_round_trip_through_azure_tables(azurite: Azurite) -> None:
    table = fresh_table(azurite)
    store = AzureStateStore(table)
    kind = "odd%kind/~1"
    etags = {key: store.put(kind, key, {"key": key}, etag=None) for key in HOSTILE}
    for key in HOSTILE:  # point operations put both keys in the URL path
        stored = store.get(kind, key)
        assert stored is not None and stored.value == {"key": key}, key
        store.put(kind, key, {"key": key, "again": True}, etag=etags[key])
    assert [s.key for s in store.list(kind)] == sorted(HOSTILE)
    assert [s.key for s in store.list(kind, "%")] == ["%", "%252F", "%zz"]
    assert [s.key for s in store.list(kind, "~")] == ["~", "~2F"]
    assert [s.key for s in store.list(kind, "a")] == ["a%2Fb", "a+b c", "a~b"]

    rows = list(table.list_entities())
    assert len(rows) == len(HOSTILE)
    for row in rows:
        assert _STORED.match(row["PartitionKey"]) and _STORED.match(row["RowKey"]), row
