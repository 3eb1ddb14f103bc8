"""Fakes of the ports, one module per port: state kept in memory, what was asked recorded,
and each port's contract kept (tests/contract/ runs the contracts on them too)."""

from tests.fakes.audit_sink import TEST_CHAIN_KEY, RecordingAuditSink
from tests.fakes.blob_store import InMemoryBlobStore
from tests.fakes.clock import FakeClock
from tests.fakes.container_registry import InMemoryContainerRegistry
from tests.fakes.live_traffic import RecordedLiveTraffic
from tests.fakes.ml_platform import GOLDEN, GOOD_TAGS, FakeMLPlatform
from tests.fakes.secret_store import NoSecrets
from tests.fakes.state_store import InMemoryStateStore

__all__ = [
    "GOLDEN",
    "GOOD_TAGS",
    "TEST_CHAIN_KEY",
    "FakeClock",
    "FakeMLPlatform",
    "InMemoryBlobStore",
    "InMemoryContainerRegistry",
    "InMemoryStateStore",
    "NoSecrets",
    "RecordedLiveTraffic",
    "RecordingAuditSink",
]
