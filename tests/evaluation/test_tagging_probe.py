"""Tagging probe: multi-label logistic regression and macro ROC-AUC."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mirbench.evaluation.tagging_probe import MultiLabelLogisticRegression, macro_auroc, tagging_probe


def _data(seed=0, n=300, t=4):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, t)) < 0.3).astype(int)
    x = rng.normal(size=(n, 8))
    x[:, :t] += 1.5 * y
    return x, y


def test_macro_auroc_matches_sklearn_and_skips_degenerate_columns():
    rng = np.random.default_rng(0)
    y = (rng.random((50, 4)) < 0.4).astype(int)
    y[:, 2] = 0  # no positive
    y[:, 3] = 1  # no negative
    s = rng.normal(size=(50, 4))
    # tol: approx's default: float64 AUC, the same sklearn call on the kept columns
    assert macro_auroc(y, s) == pytest.approx(roc_auc_score(y[:, :2], s[:, :2], average="macro"))
    assert macro_auroc(y, np.full((50, 4), np.nan)) == -1e3


def test_estimator_approaches_sklearn_logistic_regression():
    x, y = _data()
    ours = MultiLabelLogisticRegression(alpha=1.0, learning_rate=0.05, max_iter=300, batch_size=300).fit(x, y)
    for t in range(y.shape[1]):
        # same objective: sum BCE + alpha ||w||^2  <=>  sklearn C = 1 / (2 alpha)
        ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(x, y[:, t])
        # tol: optimiser convergence, not float error: SGD (300 minibatch epochs) vs sklearn's converged solver on the
        # same objective; 0.02 on coefficients of O(1)
        np.testing.assert_allclose(ours.coef_[t], ref.coef_[0], atol=0.02)
        # tol: as above
        assert ours.intercept_[t] == pytest.approx(ref.intercept_[0], abs=0.02)
    logp = ours.predict_log_proba(x)
    assert logp.shape == y.shape and (logp <= 0).all()


def test_probe_runs_and_finds_signal():
    x, y = _data(seed=1, n=240)
    split = np.array(["train"] * 120 + ["valid"] * 40 + ["test"] * 80)
    space = {"lr__alpha": [1e-2, 1e2], "lr__learning_rate": [1e-2], "lr__batch_size": [64], "lr__max_iter": [30]}
    out = tagging_probe(x, y, split, n_iter=2, search_space=space)
    assert out["test/macro_auroc"] > 0.8 and out["alpha"] in (1e-2, 1e2)
    assert set(out) >= {"test/macro_auroc", "valid/macro_auroc", "learning_rate", "batch_size", "max_iter"}


def _autograd_fit(x, y, alpha, learning_rate, max_iter, batch_size, seed=0):
    """The textbook loop: nn.Linear, BCE-with-logits (sum) + alpha ||W||^2 over the batch, autograd, torch Adam."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    layer = torch.nn.Linear(xt.shape[1], yt.shape[1])
    with torch.no_grad():
        bound = 1.0 / np.sqrt(xt.shape[1])
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.Adam(layer.parameters(), lr=learning_rate)
    for _ in range(max_iter):
        for s in range(0, len(xt), batch_size):
            xb, yb = xt[s : s + batch_size], yt[s : s + batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(layer(xb), yb, reduction="sum")
            loss = (loss + alpha * layer.weight.pow(2).sum()) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return layer.weight.detach().numpy(), layer.bias.detach().numpy()


@pytest.mark.parametrize("alpha,lr,batch", [(1e-3, 1e-2, 64), (10.0, 1e-1, 500), (1e2, 1e-4, 128)])
def test_hand_written_updates_equal_autograd_and_torch_adam(alpha, lr, batch):
    x, y = _data(seed=2, n=300)
    ours = MultiLabelLogisticRegression(alpha=alpha, learning_rate=lr, max_iter=40, batch_size=batch).fit(x, y)
    w, b = _autograd_fit(x, y, alpha, lr, 40, batch)
    # tol: float32, 40 steps of the same Adam updates in another op order: rounding ~u per step compounding
    # through 1/sqrt(v); measured on the four kernel legs (and the next line)
    np.testing.assert_allclose(ours.coef_, w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, b, rtol=1e-4, atol=1e-5)
