"""The manual API: read endpoints and operations, redeploy a version, roll back, retrain.

Anonymous at the Functions level on purpose: App Service Authentication guards these routes
in Azure and hands over the caller as ``X-MS-CLIENT-PRINCIPAL``, which ``api_http.serve``
requires (401) along with an app role (403). In a Function App where that authentication is
off, the header is whatever the caller sent: ``serve`` then refuses every request (503)
before reading it. The OpenAPI document reads no header and stays public, as it is behind
App Service Authentication too (an excluded path). Routes sit under the host's ``api/`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from functions.api.http_mapping import Call, HttpError, invalid, json_body, respond, serve
from functions.api.idempotency import Answer, fingerprint, new_operation_key, run_once
from functions.api.openapi import document
from shared import bootstrap
from shared.domain.api_requests import (
    RedeployRequest,
    RollbackRequest,
    check_dataset_name,
    check_idempotency_key,
    is_endpoint_name,
    is_operation_id,
    parse_redeploy,
    parse_rollback,
    parse_train,
)
from shared.domain.errors import Rejected
from shared.domain.principal import DEPLOYER, READER
from shared.domain.rollout import Rollout
from shared.services import operations, retrain
from shared.services import views as api_views

bp = func.Blueprint()

READ = frozenset({READER, DEPLOYER})
WRITE = frozenset({DEPLOYER})
ANONYMOUS = func.AuthLevel.ANONYMOUS
IDEMPOTENCY_KEY = "Idempotency-Key"


@bp.function_name("api_list_endpoints")
@bp.route(route="endpoints", methods=["GET"], auth_level=ANONYMOUS)
def api_list_endpoints(req: func.HttpRequest) -> func.HttpResponse:
    def handle(call: Call) -> Answer:
        return Answer(200, {"endpoints": call.run(api_views.endpoint_views)})

    return serve(req, action="api.list_endpoints", roles=READ, target="endpoints", handler=handle)


@bp.function_name("api_get_endpoint")
@bp.route(route="endpoints/{endpoint}", methods=["GET"], auth_level=ANONYMOUS)
def api_get_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = req.route_params.get("endpoint", "")

    def handle(call: Call) -> Answer:
        return Answer(200, call.run(api_views.endpoint_view, _endpoint(endpoint, audit=False)))

    return serve(req, action="api.get_endpoint", roles=READ, target=endpoint, handler=handle)


@bp.function_name("api_redeploy")
@bp.route(route="endpoints/{endpoint}/deployments", methods=["POST"], auth_level=ANONYMOUS)
def api_redeploy(req: func.HttpRequest) -> func.HttpResponse:
    def run(endpoint: str, request: RedeployRequest, call: Call, operation_key: str) -> Rollout:
        return call.run(
            operations.redeploy,
            endpoint,
            request.model,
            principal=call.principal,
            reason=request.reason,
            operation_key=operation_key,
            supersede=request.supersede,
        )

    return _operation(req, "redeploy", parse_redeploy, run)


@bp.function_name("api_rollback")
@bp.route(route="endpoints/{endpoint}/rollback", methods=["POST"], auth_level=ANONYMOUS)
def api_rollback(req: func.HttpRequest) -> func.HttpResponse:
    def run(endpoint: str, request: RollbackRequest, call: Call, operation_key: str) -> Rollout:
        return call.run(
            operations.rollback,
            endpoint,
            principal=call.principal,
            reason=request.reason,
            operation_key=operation_key,
            supersede=request.supersede,
        )

    return _operation(req, "rollback", parse_rollback, run)


@bp.function_name("api_train")
@bp.route(route="datasets/{dataset}/train", methods=["POST"], auth_level=ANONYMOUS)
def api_train(req: func.HttpRequest) -> func.HttpResponse:
    """Retrain a dataset on the files it already accepted: its window, due now, becomes ONE
    job at the reconciler's next tick (the path every upload takes)."""
    dataset = req.route_params.get("dataset", "")

    def handle(call: Call) -> Answer:
        try:
            check_dataset_name(dataset)
        except Rejected as rejected:
            raise invalid(rejected) from None
        body = json_body(call.req)
        try:
            request = parse_train(body)
        except Rejected as rejected:
            raise invalid(rejected) from None

        def run(operation_key: str) -> str:
            return call.run(
                retrain.request_training,
                dataset,
                principal=call.principal,
                reason=request.reason,
                operation_key=operation_key,
            )

        return _start(call, "train", dataset, body, run)

    return serve(req, action="api.train", roles=WRITE, target=dataset, handler=handle)


@bp.function_name("api_get_operation")
@bp.route(route="operations/{operation_id}", methods=["GET"], auth_level=ANONYMOUS)
def api_get_operation(req: func.HttpRequest) -> func.HttpResponse:
    operation_id = req.route_params.get("operation_id", "")

    def handle(call: Call) -> Answer:
        if not is_operation_id(operation_id):
            raise HttpError(404, "not_found", "unknown operation", audit=False)
        return Answer(200, call.run(api_views.operation_view, operation_id))

    return serve(req, action="api.get_operation", roles=READ, target=operation_id, handler=handle)


@bp.function_name("api_openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=ANONYMOUS)
def api_openapi(req: func.HttpRequest) -> func.HttpResponse:
    # The settings name the one model a redeploy may ask for: the document says which.
    return respond(Answer(200, document(bootstrap.deps().settings.model_name)))


def _endpoint(name: str, *, audit: bool) -> str:
    """A name that cannot exist is not looked up (nor echoed): it is simply unknown.
    Refused writes are audited, refused reads are not (as the services do)."""
    if not is_endpoint_name(name):
        raise HttpError(404, "not_found", "unknown endpoint", audit=audit)
    return name


def _operation[R](
    req: func.HttpRequest,
    kind: str,
    parse: Callable[[dict[str, object]], R],
    run: Callable[[str, R, Call, str], Rollout],
) -> func.HttpResponse:
    """A POST on an endpoint that starts a rollout: strict body, Deployer role, 202."""
    endpoint = req.route_params.get("endpoint", "")

    def handle(call: Call) -> Answer:
        _endpoint(endpoint, audit=True)
        body = json_body(call.req)
        try:
            request = parse(body)
        except Rejected as rejected:
            raise invalid(rejected) from None
        return _start(call, kind, endpoint, body, lambda key: run(endpoint, request, call, key).id)

    return serve(req, action=f"api.{kind}", roles=WRITE, target=endpoint, handler=handle)


def _start(
    call: Call, action: str, target: str, body: dict[str, object], run: Callable[[str], str]
) -> Answer:
    """202 with the status URL of the operation ``run`` starts (it returns its id); with an
    Idempotency-Key, at most once."""

    def accepted(operation_key: str) -> Answer:
        operation_id = run(operation_key)
        status_url = f"/api/operations/{operation_id}"
        body = {"operation_id": operation_id, "status_url": status_url}
        return Answer(202, body, {"Location": status_url})

    raw_key = call.req.headers.get(IDEMPOTENCY_KEY)
    if raw_key is None:
        return accepted(new_operation_key())
    try:
        key = check_idempotency_key(raw_key)
    except Rejected as rejected:
        raise invalid(rejected) from None
    answer, replayed = call.run(
        run_once, call.principal, key, fingerprint(action, target, body), accepted
    )
    if replayed:
        return Answer(answer.status, answer.body, {**answer.headers, "Idempotent-Replayed": "true"})
    return answer
