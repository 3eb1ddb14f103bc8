"""Known answers for the audit record hash: the format is a contract with every exported
trail and with anyone who verifies one, so it is pinned byte for byte. The expected values
were computed independently with `openssl dgst -sha256 -mac HMAC -macopt hexkey:...` over
the canonical text below."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.audit import (
    GENESIS_HASH,
    SCHEMA_VERSION,
    AuditEntry,
    ChainKey,
    canonical,
    chain,
    head_mac,
    record_hash,
)

KEY = ChainKey(bytes(range(32)))  # 000102...1f
ENTRY = AuditEntry(
    actor="/subscriptions/0000/storageAccounts/contosodata",
    action="data.received",
    target="spam:spam/part-1.csv",
    outcome="accepted",
    reason="added to window w-1",
    correlation_id="ev-1",
    details={"é": ["ü", 2], "n": 1},
)
AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
CANONICAL = (
    '{"action":"data.received","actor":"/subscriptions/0000/storageAccounts/contosodata",'
    '"correlation_id":"ev-1","details":{"n":1,"é":["ü",2]},"outcome":"accepted",'
    '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"reason":"added to window w-1","schema_version":2,"seq":1,'
    '"target":"spam:spam/part-1.csv","time":"2026-01-02T03:04:05.678901+00:00"}'
)
HASH = "fad3ce0978b12b481664ac182406ff4fc396d19fd5041f88a0de292267fc2e07"
HEAD_MAC = "7329e55a88ac209d1f31f4702482bc6b3833b48c54b8c50ddb88179762c2fc92"


def test_the_record_hash_is_hmac_sha256_over_the_canonical_json() -> None:
    record = chain(ENTRY, seq=1, time=AT, prev_hash=GENESIS_HASH, key=KEY)
    assert SCHEMA_VERSION == 2
    assert canonical(record.to_dict()).decode() == CANONICAL  # sorted, compact, raw UTF-8
    assert record.hash == HASH
    assert record_hash(record.to_dict(), KEY) == HASH  # ``hash`` itself is never covered


def test_the_head_mac_is_pinned_too() -> None:
    assert head_mac(KEY, 1, HASH) == HEAD_MAC


def test_the_mac_is_rfc_4231_hmac_sha256() -> None:
    # RFC 4231, test case 6: a key longer than the block size.
    key = ChainKey(b"\xaa" * 131)
    message = b"Test Using Larger Than Block-Size Key - Hash Key First"
    assert key.mac(message) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_another_key_gives_another_hash() -> None:
    other = ChainKey(bytes(range(1, 33)))
    assert chain(ENTRY, seq=1, time=AT, prev_hash=GENESIS_HASH, key=other).hash != HASH


@pytest.mark.parametrize("text", ["", "zz", "00" * 31, "not hex at all " * 5])
def test_short_or_malformed_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(ValueError) as error:
        ChainKey.from_text(text)
    assert not text.strip() or text.strip() not in str(error.value)


def test_a_key_never_shows_in_its_repr() -> None:
    assert repr(KEY) == "ChainKey()"
