"""A two-class calibrated linear SVM saved as the one logistic regression it equals.

``CalibratedClassifierCV(LinearSVC(), method="sigmoid", ensemble=False)`` fits one SVM on all
rows and Platt's sigmoid on cross-validated scores: P(positive) = 1 / (1 + exp(a·f + b)) with
f = w·x + c (scikit-learn's ``_SigmoidCalibration.predict``: ``expit(-(a_ * T + b_))``). That
is a logistic regression with weights -a·w and intercept -(a·c + b), which scores a text in
one ``LogisticRegression.predict_proba`` instead of the calibration wrapper's per-call checks,
label encoding and per-class loop. The probabilities are the same numbers (to rounding), so
accuracy, F1 and calibration are the calibrated SVM's.

More than two classes keep the calibrated classifier: its per-class sigmoids are normalised
by their sum, which no single softmax reproduces.
"""

from __future__ import annotations

from typing import Any


def fold(pipeline: Any) -> Any:
    """``pipeline`` with its last step (a fitted calibrated SVM) as a logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    calibrated = pipeline.steps[-1][1]
    if len(calibrated.classes_) != 2:
        return pipeline
    (member,) = calibrated.calibrated_classifiers_  # ensemble=False: one SVM, one sigmoid
    svm, (sigmoid,) = member.estimator, member.calibrators
    # Never fitted: it carries the calibrated SVM's numbers (C and the solver are unused).
    folded = LogisticRegression()
    folded.classes_ = calibrated.classes_
    folded.coef_ = -sigmoid.a_ * svm.coef_
    folded.intercept_ = -(sigmoid.a_ * svm.intercept_ + sigmoid.b_)
    folded.n_features_in_ = svm.n_features_in_
    return Pipeline([*pipeline.steps[:-1], (pipeline.steps[-1][0], folded)])
