"""Save and load the MLflow sklearn model in the skops format, with our own allow-list.

mlflow 3.17's ``mlflow.sklearn.load_model`` refuses every format unless
MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true, and then trusts the types listed inside the model's
own MLmodel file. Loading here checks the model's types against the allow-list in this file
instead, so a crafted model cannot trust itself into running code.

Saving writes the model folder itself (``model.skops``, ``MLmodel``, the environment files)
rather than through ``mlflow.sklearn.save_model``: the Azure ML job runs MLflow 2, whose
sklearn flavor has no skops format, and the folder must be the same whichever MLflow wrote it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

# Types our pipeline needs beyond skops' defaults (scikit-learn estimators, numpy, scipy).
TRUSTED_TYPES = (
    "numpy.ravel",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)
MODEL_FILE = "model.skops"


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
    """Pinned from the running versions: MLflow's own inference of them imports the model in a
    subprocess, which takes seconds and can pick up unrelated packages."""
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")
    return [f"{name}=={version(name)}" for name in packages]


def save(model: Any, path: Path) -> None:
    """An MLflow model folder as ``mlflow.sklearn.save_model(serialization_format="skops")``
    of MLflow 3 writes it, from MLflow 2 or 3. Refuses a model ``load`` would refuse."""
    import sklearn
    import skops.io
    from mlflow import pyfunc
    from mlflow.models import Model

    path.mkdir(parents=True)  # like save_model: never into an existing folder
    skops.io.dump(model, str(path / MODEL_FILE))
    _check_trusted(path / MODEL_FILE)
    mlmodel = Model(signature=signature())
    pyfunc.add_to_model(
        mlmodel,
        loader_module="mlflow.sklearn",
        model_path=MODEL_FILE,
        conda_env="conda.yaml",
        python_env="python_env.yaml",
        predict_fn="predict",
    )
    mlmodel.add_flavor(
        "sklearn",
        pickled_model=MODEL_FILE,
        sklearn_version=sklearn.__version__,
        serialization_format="skops",
        code=None,
        skops_trusted_types=list(TRUSTED_TYPES),
    )
    mlmodel.save(str(path / "MLmodel"))
    requirements = pip_requirements()
    (path / "requirements.txt").write_text("\n".join(requirements), encoding="utf-8")
    # JSON is YAML: the environment files MLflow reads, without a YAML writer to type-check.
    python = platform.python_version()
    conda = {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
    }
    env = {"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]}
    (path / "conda.yaml").write_text(json.dumps(conda, indent=2) + "\n", encoding="utf-8")
    (path / "python_env.yaml").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")


def _check_trusted(model_file: Path) -> list[str]:
    """The model's types outside skops' defaults, all of them on our allow-list."""
    import skops.io

    untrusted = [str(t) for t in skops.io.get_untrusted_types(file=str(model_file))]
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise UntrustedModelError(f"{model_file} uses types outside the allow-list: {unexpected}")
    return untrusted


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
    return skops.io.load(str(model_file), trusted=_check_trusted(model_file))
