"""Slow, obvious NumPy versions of the kernels, for checking the compiled ones."""

from __future__ import annotations

import math

import numpy as np

from sgdcli.options import TrainOptions

# What the references below implement: plain SGD at a constant rate on raw features (sgdcli's defaults until
# issue 16 made them nesterov, cosine, --lr auto and --standardize).
PLAIN = {"optimizer": "sgd", "schedule": "constant", "lr": 0.01, "standardize": False}


def options(**changes):
    """sgdcli.TrainOptions with the settings these references implement, and ``changes``."""
    return TrainOptions(**{**PLAIN, **changes})


DEFAULTS = TrainOptions()  # huber's epsilon and quantile's q when a test does not give them


def targets(model: str, X: np.ndarray, rng, k: int = 3) -> np.ndarray:
    """Labels for rows ``X``: a noisy linear function (linear), k classes (softmax) or 0/1 (the rest)."""
    n, d = X.shape
    if model == "linear":
        return X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    if model == "softmax":
        return rng.integers(0, k, n).astype(float)
    return rng.integers(0, 2, n).astype(float)


def loss_and_grad(model: str, s: np.ndarray, t: float, param: float | None = None) -> tuple[float, np.ndarray]:
    """Loss of the score vector s for target t, and d loss / d s (``param``: huber's epsilon, quantile's q)."""
    if model == "linear":
        return 0.5 * (s[0] - t) ** 2, np.array([s[0] - t])
    if model == "huber":
        eps = DEFAULTS.epsilon if param is None else param
        r = s[0] - t
        if abs(r) <= eps:
            return 0.5 * r * r, np.array([r])
        return eps * abs(r) - 0.5 * eps**2, np.array([eps * np.sign(r)])
    if model == "quantile":
        q = DEFAULTS.quantile if param is None else param
        r = t - s[0]
        return max(q * r, (q - 1) * r), np.array([-q if r > 0 else 1 - q])
    if model == "poisson":
        return math.exp(s[0]) - t * s[0], np.array([math.exp(s[0]) - t])
    if model in ("squared_hinge", "modified_huber"):
        sign = 1.0 if t == 1 else -1.0
        z = sign * s[0]
        if model == "modified_huber" and z < -1:
            return -4.0 * z, np.array([-4.0 * sign])
        m = max(0.0, 1 - z)
        return m * m, np.array([-2.0 * sign * m])
    if model == "logistic":
        p = 1 / (1 + math.exp(-s[0]))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p)), np.array([p - t])
    if model == "hinge":
        sign = 1.0 if t == 1 else -1.0
        return max(0.0, 1 - sign * s[0]), np.array([-sign if sign * s[0] < 1 else 0.0])
    e = np.exp(s - s.max())
    p = e / e.sum()
    onehot = np.zeros_like(s)
    onehot[int(t)] = 1
    return -math.log(p[int(t)]), p - onehot


def objective(model: str, W: np.ndarray, X: np.ndarray, y: np.ndarray, l1=0.0, l2=0.0, param=None) -> float:
    """Mean loss + (l2/2)·‖w‖² + l1·‖w‖₁; W is (outputs, features+1), the last column the bias."""
    S = X.astype(np.float64) @ W[:, :-1].T + W[:, -1]
    mean = np.mean([loss_and_grad(model, S[i], y[i], param)[0] for i in range(len(y))])
    w = W[:, :-1]
    return float(mean + 0.5 * l2 * (w**2).sum() + l1 * np.abs(w).sum())


def batch_gradient(model, W, X, y, rows, l2=0.0, sw=None, divisor=None):
    """The sum over ``rows`` of the rows' loss gradients (each times its weight ``sw[i]``) over ``divisor`` (None:
    their count, the mean), plus --l2's (--l1 is ``Optimizer``'s proximal step)."""
    G = np.zeros_like(W)
    for i in rows:
        x = X[i].astype(np.float64)
        _, g = loss_and_grad(model, x @ W[:, :-1].T + W[:, -1], y[i])
        g = g if sw is None else sw[i] * g
        G[:, :-1] += np.outer(g, x)
        G[:, -1] += g
    G /= len(rows) if divisor is None else divisor
    G[:, :-1] += l2 * W[:, :-1]
    return G


def shrink(W, by):
    """--l1's proximal step: every weight (not the bias, the last column) moved towards zero by ``by`` (a number
    or one per weight), never across it."""
    out = W.copy()
    w = W[:, :-1]
    out[:, :-1] = np.sign(w) * np.maximum(np.abs(w) - np.broadcast_to(by, W.shape)[:, :-1], 0.0)
    return out


class Optimizer:
    """The update rules of sgdcli.optimizers, written out plainly; with ``l1``, each update is followed by
    --l1's proximal step, each weight's threshold l1 times what the update multiplies a gradient by that has
    not changed since the rule's state began (momentum's and Nesterov's: since its velocity began).
    ``restart``: momentum's and Nesterov's velocity is dropped before an update where the last one moved the
    weights uphill of the objective's slope: the gradient ``g`` (a full batch's) and, under ``l1``, the
    penalty's subgradient of least size, the velocity less what the proximal step takes back of it."""

    def __init__(self, name, shape, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, l1=0.0, restart=False):
        self.name, self.mu, self.b1, self.b2, self.eps, self.l1 = name, momentum, beta1, beta2, eps, l1
        self.restart = restart
        self.a = np.zeros(shape)
        self.b = np.zeros(shape)
        self.t = 0
        self.gathered = 0  # the steps momentum's velocity has gathered since it began

    def step(self, W, g, lr):
        W, size = self._update(W, g, lr)
        return shrink(W, size * self.l1) if self.l1 else W

    def _update(self, W, g, lr):
        """The updated weights, and the step size of each."""
        self.t += 1
        if self.restart and np.sum(self._slope(W, g) * (lr * self._net(W))) < 0:  # a step against it would climb
            self.a = np.zeros_like(self.a)
            self.gathered = 0
        self.gathered += 1
        if self.name == "sgd":
            return W - lr * g, lr
        if self.name == "momentum":
            self.a = self.mu * self.a + g
            return W - lr * self.a, lr * sum(self.mu**i for i in range(self.gathered))
        if self.name == "nesterov":
            self.a = self.mu * self.a + g
            return W - lr * (g + self.mu * self.a), lr * sum(self.mu**i for i in range(self.gathered + 1))
        if self.name == "adagrad":
            self.a += g * g
            return W - lr * g / (np.sqrt(self.a) + self.eps), lr / (np.sqrt(self.a) + self.eps)
        if self.name == "rmsprop":
            self.a = self.b2 * self.a + (1 - self.b2) * g * g
            return W - lr * g / (np.sqrt(self.a) + self.eps), lr / (np.sqrt(self.a) + self.eps)
        self.a = self.b1 * self.a + (1 - self.b1) * g
        self.b = self.b2 * self.b + (1 - self.b2) * g * g
        mhat = self.a / (1 - self.b1**self.t)
        vhat = self.b / (1 - self.b2**self.t)
        return W - lr * mhat / (np.sqrt(vhat) + self.eps), lr / (np.sqrt(vhat) + self.eps)

    def _net(self, W):
        """Momentum's velocity less what --l1's proximal step takes back of it: l1·sign(w) times the sum of μ's
        powers over its steps where w ≠ 0 (the penalty's part of its gradients), and where w = 0 what is beyond
        that threshold (not on the bias)."""
        if not self.l1:
            return self.a
        gathered = sum(self.mu**i for i in range(self.gathered))
        out = self.a.copy()
        w, a = W[:, :-1], self.a[:, :-1]
        beyond = np.sign(a) * np.maximum(np.abs(a) - self.l1 * gathered, 0.0)
        out[:, :-1] = np.where(w != 0, a + self.l1 * gathered * np.sign(w), beyond)
        return out

    def _slope(self, W, g):
        """The gradient ``g`` and --l1's subgradient of least size at ``W``: l1·sign(w) where w ≠ 0, and where
        w = 0 whatever brings g nearest zero within ±l1 (not on the bias, the last column)."""
        if not self.l1:
            return g
        out = g.copy()
        w, gw = W[:, :-1], g[:, :-1]
        at_zero = np.sign(gw) * np.maximum(np.abs(gw) - self.l1, 0.0)
        out[:, :-1] = np.where(w != 0, gw + self.l1 * np.sign(w), at_zero)
        return out


def minibatch_sgd(model, X, y, order, batch, lr, optimizer="sgd", epochs=1, k_out=1, l1=0.0, l2=0.0, average=False,
                  drop_last=False, sw=None, bias_lr=None, start=None, **optimizer_params):
    """Mini-batch training over the same row order every epoch; each epoch starts a new batch, and its last,
    partial one, where a whole one came before it, is the sum of its rows' gradients over ``batch``; ``sw``: the
    rows' weights; ``bias_lr``: the bias's own rate (None: ``lr``).  ``average``: the mean of the iterates of
    the run's last half of updates (of T, those after update T // 2); ``start``: where the model starts (None:
    zeros)."""
    W = np.zeros((k_out, X.shape[1] + 1)) if start is None else np.array(start, dtype=np.float64)
    opt = Optimizer(optimizer, W.shape, l1=l1, **optimizer_params)
    iterates = []
    rate = lr if bias_lr is None else np.append(np.full(X.shape[1], lr), bias_lr)  # each column's
    for _ in range(epochs):
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            if drop_last and len(rows) < batch:
                break
            W = opt.step(W, batch_gradient(model, W, X, y, rows, l2=l2, sw=sw, divisor=batch if start else None), rate)
            iterates.append(W)
    return np.mean(iterates[len(iterates) // 2:], axis=0) if average else W
