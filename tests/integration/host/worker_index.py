"""Index a Function App with the real Python worker Azure runs for Python 3.13+
(``azure-functions-runtime``) and print, as one JSON line, what the worker would send the
Functions host: ``{"functions": [{"name", "bindings": [raw binding]}]}`` or ``{"error"}``.

    python tests/integration/host/worker_index.py APP_DIR

A script, run in a fresh interpreter, because ``get_functions()`` may be called only once per
app object. No gRPC: the loader needs only the host protocol's ``BindingInfo`` enums
(FunctionRpc.proto in azure-functions-language-worker-protobuf), supplied here.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# FunctionRpc.proto, message BindingInfo: enum Direction {in, out, inout}, enum DataType
# {undefined, string, binary, stream}; "in" is a Python keyword, hence type().
BindingInfo = type(
    "BindingInfo",
    (SimpleNamespace,),
    {"in": 0, "out": 1, "inout": 2, "undefined": 0, "string": 1, "binary": 2, "stream": 3},
)
PROTOS = SimpleNamespace(
    BindingInfo=BindingInfo,
    RpcFunctionMetadata=SimpleNamespace,
    RpcRetryOptions=SimpleNamespace,
)


def index(app_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(app_dir))
    loader: Any = importlib.import_module("azure_functions_runtime.loader")
    meta: Any = importlib.import_module("azure_functions_runtime.bindings.meta")
    registry: Any = importlib.import_module("azure_functions_runtime.functions").Registry()

    meta.load_binding_registry()  # what worker_init_request does before it indexes
    try:
        indexed = loader.index_function_app(str(app_dir / "function_app.py"))
        metadata, _ = loader.process_indexed_function(PROTOS, registry, indexed, str(app_dir))
    except Exception as error:  # FunctionLoadError, ValueError: what the host would be told
        return {"error": f"{type(error).__name__}: {error}"}
    return {
        "functions": [
            {"name": item.name, "bindings": [json.loads(raw) for raw in item.raw_bindings]}
            for item in metadata
        ]
    }


if __name__ == "__main__":
    print(json.dumps(index(Path(sys.argv[1]).resolve())))
