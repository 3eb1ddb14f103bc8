"""Contract: the job's code snapshot goes where Azure ML's startPendingUpload says, here an
Azurite container (the SDK uploads with its own BlobServiceClient and SAS, not the MLClient's
transport), and the job then refers to the code version registered for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from shared.domain.values import TrainingJobRequest
from tests.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, azurite  # noqa: F401  (the fixture)
from tests.contract.ml_workspace import REPO, WORKSPACE, Workspace, echo
from tests.contract.recording import Canned, error

JOB = "train-spam-0123456789abcdef"
PREFIX = "https://stmlopsdata.blob.core.windows.net/training-data/spam/"


def pending_upload_sas(blobs: BlobServiceClient, container: str) -> str:
    """A fresh container and a write SAS on it, as startPendingUpload hands out."""
    blobs.create_container(container)
    permission = ContainerSasPermissions(read=True, write=True, create=True, list=True)
    expiry = datetime.now(UTC) + timedelta(hours=1)
    sas = generate_container_sas(
        ACCOUNT, container, ACCOUNT_KEY, permission=permission, expiry=expiry
    )
    return f"{blobs.url.rstrip('/')}/{container}?{sas}"


def test_the_code_snapshot_is_uploaded_to_the_pending_upload_container(
    azurite: Azurite,  # noqa: F811
) -> None:
    ws = Workspace()
    blobs = BlobServiceClient(azurite.blob_url, credential=azurite.credential)
    container_name = f"pending-{uuid.uuid4().hex[:12]}"  # Azurite is shared by the session
    sas_url = pending_upload_sas(blobs, container_name)
    container_url = sas_url.split("?", 1)[0]
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", "not found"))
    ws.add("GET", "/codes/[^/]+/versions", Canned(200, {"value": []}))  # hash not seen yet
    pending = {
        "pendingUploadType": "TemporaryBlobReference",
        "blobReferenceForConsumption": {
            "blobUri": container_url,
            "credential": {"credentialType": "SAS", "sasUri": sas_url},
        },
    }
    ws.add("POST", "/codes/[^/]+/versions/1/startPendingUpload", Canned(200, pending))
    ws.add("PUT", "/codes/[^/]+/versions/1", echo)
    ws.environments_echo()
    ws.add("PUT", f"/jobs/{JOB}", echo)

    ws.platform.submit_job(TrainingJobRequest(JOB, "spam", PREFIX, "spam-classifier", None))

    container = blobs.get_container_client(container_name)
    uploaded = container.download_blob("src/train.py").readall()
    assert uploaded == (REPO / "training/src/train.py").read_bytes()
    code = ws.one("PUT", "/codes/[^/]+/versions/1")
    assert code.json()["properties"]["codeUri"] == f"{container_url}/src"
    assert code.json()["properties"]["isAnonymous"] is True
    job = ws.one("PUT", f"/jobs/{JOB}").json()["properties"]
    assert job["codeId"] == WORKSPACE + code.path.removeprefix(WORKSPACE)
    ws.transport.assert_consumed()
