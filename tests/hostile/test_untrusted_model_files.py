"""The model loader (score.py's init, training's champion) trusts the allow-list in
training/src/model_store.py, never the model folder: a model.skops holding any other type,
a model in another format, an MLmodel pointing outside its folder, or an MLmodel that lists
its own types as trusted is refused before anything in it is built."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from shared.adapters.project_files import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "training" / "src"))

import model_store  # training/src, as the job and score.py import it

TEXTS = ["WIN a prize now", "see you at noon", "FREE entry, txt WIN", "running late"]
LABELS = ["spam", "ham", "spam", "ham"]


def fitted() -> Any:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(CountVectorizer(), LogisticRegression()).fit(TEXTS, LABELS)


def hostile() -> Any:
    """A fitted model behind a first step that would call os.system on what it is given."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(func=os.system), fitted())


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "model"
    model_store.save(fitted(), path)
    assert list(model_store.load(path).predict(["WIN a prize"])) == ["spam"]  # loads as is
    return path


def edit_mlmodel(path: Path, **sklearn: Any) -> None:
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(sklearn)
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def test_saving_refuses_a_model_with_a_type_outside_the_allow_list(tmp_path: Path) -> None:
    with pytest.raises(model_store.UntrustedModelError, match="outside the allow-list"):
        model_store.save(hostile(), tmp_path / "model")


def test_a_model_file_with_a_type_outside_the_allow_list_is_refused(saved: Path) -> None:
    import skops.io

    skops.io.dump(hostile(), str(saved / model_store.MODEL_FILE))  # swapped after saving

    with pytest.raises(model_store.UntrustedModelError, match=r"allow-list: \[.*system"):
        model_store.load(saved)


def test_a_model_that_trusts_its_own_types_is_refused_all_the_same(saved: Path) -> None:
    import skops.io

    skops.io.dump(hostile(), str(saved / model_store.MODEL_FILE))
    untrusted = [str(t) for t in skops.io.get_untrusted_types(file=str(saved / "model.skops"))]
    edit_mlmodel(saved, skops_trusted_types=untrusted)  # what MLflow's own loader would trust

    with pytest.raises(model_store.UntrustedModelError, match="outside the allow-list"):
        model_store.load(saved)


@pytest.mark.parametrize("serialization", ["cloudpickle", "pickle", None])
def test_a_model_in_another_format_is_refused(saved: Path, serialization: str | None) -> None:
    edit_mlmodel(saved, serialization_format=serialization)

    with pytest.raises(model_store.UntrustedModelError, match="not an sklearn model serialized"):
        model_store.load(saved)


def test_a_folder_without_the_sklearn_flavor_is_refused(saved: Path) -> None:
    mlmodel = yaml.safe_load((saved / "MLmodel").read_text())
    del mlmodel["flavors"]["sklearn"]
    (saved / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    with pytest.raises(model_store.UntrustedModelError, match="not an sklearn model serialized"):
        model_store.load(saved)


def test_an_mlmodel_pointing_outside_its_folder_is_refused(saved: Path) -> None:
    (saved.parent / "elsewhere.skops").write_bytes((saved / model_store.MODEL_FILE).read_bytes())
    edit_mlmodel(saved, pickled_model="../elsewhere.skops")

    with pytest.raises(model_store.UntrustedModelError, match="outside the model folder"):
        model_store.load(saved)
