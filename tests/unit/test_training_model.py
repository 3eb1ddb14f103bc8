"""The model train.py saves: n-grams unseen in training weigh nothing (unseen.py), and it scores
like the calibrated SVM it was fitted as (platt.py), with fewer steps per call and, for two
classes, no type outside skops' defaults but one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shared.ops.demo import data as demodata

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "training" / "src"))

import model_store  # noqa: E402
import platt  # noqa: E402
import train  # noqa: E402
import training_data  # noqa: E402
import unseen  # noqa: E402


@pytest.fixture(scope="module")
def split() -> training_data.Split:
    rows = demodata.generate(1500, seed=31)
    return training_data.hash_split([t for _, t in rows], [y for y, _ in rows])


def test_two_classes_are_saved_as_the_logistic_regression_the_calibrated_svm_equals(
    split: training_data.Split,
) -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    calibrated = train.build_pipeline(5, seed=42).fit(split.train_texts, split.train_labels)
    calibrated = unseen.forget_unseen(calibrated, split.train_texts)
    folded = train.fit(split, seed=42)
    assert isinstance(calibrated.steps[-1][1], CalibratedClassifierCV)
    assert isinstance(folded.steps[-1][1], LogisticRegression)
    assert [name for name, _ in folded.steps] == [name for name, _ in calibrated.steps]
    texts = [*split.test_texts, "WIN £££ now!!!", "ok"]
    expected, served = calibrated.predict_proba(texts), folded.predict_proba(texts)
    assert served == pytest.approx(expected, abs=1e-12)
    assert list(folded.predict(texts)) == list(calibrated.predict(texts))
    assert list(folded.classes_) == list(calibrated.classes_)


def test_n_grams_no_training_text_had_do_not_move_a_text_s_probabilities(
    split: training_data.Split,
) -> None:
    model = train.fit(split, seed=42)
    counts, tfidf = model.named_steps["counts"], model.named_steps["tfidf"]
    trained = set(counts.transform(split.train_texts).indices)
    words = ["ꙮꙮꙮ", "ᚠᚢᚦᚨ", "ⰀⰁⰂ", "ꝏꝏꝏ", "ᏣᎳᎩ", "ߒߞߏ"]  # scripts the demo data never uses
    strangers = [w for w in words if not trained & set(counts.transform([w]).indices)]
    assert strangers, "every candidate shares a hash bucket with the training data"
    assert not tfidf.idf_[counts.transform(strangers).indices].any()
    for text in ("see you at the pub at 7", "WIN a FREE prize now!!! txt 80086"):
        alone, padded = model.predict_proba([text, f"{text} {' '.join(strangers)}"])
        assert padded == pytest.approx(alone, abs=1e-12)


def test_a_saved_two_class_model_uses_no_type_beyond_skops_defaults_but_ravel(
    split: training_data.Split, tmp_path: Path
) -> None:
    import skops.io

    model_store.save(train.fit(split, seed=42), tmp_path / "model")
    model_file = str(tmp_path / "model" / model_store.MODEL_FILE)
    assert skops.io.get_untrusted_types(file=model_file) == ["numpy.ravel"]
    texts = ["URGENT! You have won a £1000 prize. Call 09061234567 now", "see you at the pub at 7"]
    assert list(model_store.load(tmp_path).predict(texts)) == ["spam", "ham"]


def test_three_classes_keep_the_calibrated_classifier_and_still_load(tmp_path: Path) -> None:
    from sklearn.calibration import CalibratedClassifierCV

    words = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "one": "number"}
    words |= {"two": "number", "green": "colour", "cow": "animal", "three": "number"}
    rows = [(label, f"{word} {i} {word}") for i in range(40) for word, label in words.items()]
    texts, labels = [t for _, t in rows], [y for y, _ in rows]
    fitted = train.build_pipeline(5, seed=1).fit(texts, labels)
    assert platt.fold(fitted) is fitted
    assert isinstance(fitted.steps[-1][1], CalibratedClassifierCV)
    model_store.save(fitted, tmp_path / "model")
    loaded = model_store.load(tmp_path)
    assert loaded.predict_proba(texts[:9]) == pytest.approx(fitted.predict_proba(texts[:9]))
