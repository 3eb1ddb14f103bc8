"""Save and load the MLflow sklearn model in the skops format, with our own allow-list.

mlflow 3.17's ``mlflow.sklearn.load_model`` refuses every format unless
MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true, and then trusts the types listed inside the model's
own MLmodel file. Loading here checks the model's types against the allow-list in this file
instead, so a crafted model cannot trust itself into running code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Types our pipeline needs beyond skops' defaults (scikit-learn estimators, numpy, scipy).
TRUSTED_TYPES = (
    "numpy.ravel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class UntrustedModelError(Exception):
    """The model is not a skops-serialized sklearn model made only of trusted types."""


def find_model_dir(root: Path) -> Path:
    """The folder holding MLmodel: ``root`` itself or the shallowest folder below it."""
    if (root / "MLmodel").is_file():
        return root
    found = sorted(root.rglob("MLmodel"), key=lambda p: (len(p.parts), str(p)))
    if not found:
        raise FileNotFoundError(f"no MLmodel file in {root} or below")
    return found[0].parent


def signature() -> Any:
    """One unnamed string column in, the label out: a list of texts or a 1-column DataFrame."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("string")]), outputs=Schema([ColSpec("string")]))


def pip_requirements() -> list[str]:
    """Pinned from the running versions; MLflow's own inference imports the model in a
    subprocess, which takes seconds and can pick up unrelated packages."""
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")
    return [f"{name}=={version(name)}" for name in packages]


def mlflow_options() -> dict[str, Any]:
    """The save/log arguments shared by the saved and the logged copy of a model."""
    return {
        "serialization_format": "skops",
        "signature": signature(),
        "skops_trusted_types": list(TRUSTED_TYPES),
        "pip_requirements": pip_requirements(),
    }


def save(model: Any, path: Path) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(model, str(path), **mlflow_options())


def load(path: Path) -> Any:
    """The fitted sklearn pipeline of the MLflow model at (or below) ``path``."""
    import skops.io
    from mlflow.models import Model

    model_dir = find_model_dir(path)
    flavor = Model.load(str(model_dir / "MLmodel")).flavors.get("sklearn")
    if flavor is None or flavor.get("serialization_format") != "skops":
        raise UntrustedModelError(f"{model_dir} is not an sklearn model serialized with skops")
    model_file = (model_dir / str(flavor["pickled_model"])).resolve()
    if not model_file.is_relative_to(model_dir.resolve()):
        raise UntrustedModelError(f"{model_dir}/MLmodel points outside the model folder")
    untrusted = [str(t) for t in skops.io.get_untrusted_types(file=str(model_file))]
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise UntrustedModelError(f"{model_file} uses types outside the allow-list: {unexpected}")
    return skops.io.load(str(model_file), trusted=untrusted)
