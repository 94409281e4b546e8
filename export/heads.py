"""Deep SVDD heads pre-trained as autoencoders (AE, AEwRES), as in the paper.

Phase 1 trains an autoencoder on the embeddings (MSE). Phase 2 keeps its encoder and pulls every
training embedding toward a fixed centre c (mean encoder output, eval mode) — the one-class objective
of Ruff et al. (2018). No bias terms anywhere and batch norm without affine parameters: any learnable
shift would let the encoder map everything onto c and collapse the sphere (their Proposition 2).
The ONNX graph is written from the trained weights: eval-mode batch norm is folded into a scale
and shift of the activations, which keeps the exported score identical to the torch one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import onnx
import torch
from onnx import helper
from torch import nn

from loopbridge.bundle import DEFAULT_QUANTILE

from .detector import HELD_OUT, IN_SAMPLE, Detector, const, score_model

if TYPE_CHECKING:
    from .fit import FitOptions

Progress = Callable[[str, int, int, float], None]  # (phase, epoch, epochs, val_loss)


@dataclass
class SVDDConfig:
    """Every training choice, with the paper's value as default (lr and weight decay from its code's base config)."""

    hidden: tuple[int, ...] = (512, 256, 128, 64, 32)
    dropout: float = 0.2
    lr: float = 1e-5
    weight_decay: float = 1e-5
    batch_size: int = 32
    epochs: int = 1000  # per phase, upper bound
    patience: int = 20
    # Patience counts epochs without a relative improvement of the validation loss by at least this much; the
    # best epoch is restored either way. 0 = any improvement resets it (the loss then creeps down for hundreds of
    # epochs on real embeddings while the scores stop changing).
    min_delta: float = 1e-3
    val_fraction: float = 0.2
    eps: float = 0.1  # centre coordinates closer to 0 than this are pushed to ±eps
    bn_eps: float = 1e-5
    seed: int = 0
    pretrain: bool = True
    threads: int = 1  # these nets are small: on a busy CPU more threads cost more in sync than they gain (40x at 2)


def _block(n_in: int, n_out: int, cfg: SVDDConfig) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, n_out, bias=False),
        nn.BatchNorm1d(n_out, eps=cfg.bn_eps, affine=False),
        nn.ELU(),
        nn.Dropout(cfg.dropout),
    )


class Encoder(nn.Module):
    """dim → hidden[:-1] blocks → linear to the latent hidden[-1]; returns every activation for AEwRES."""

    def __init__(self, dim: int, cfg: SVDDConfig) -> None:
        super().__init__()
        sizes = (dim, *cfg.hidden)
        self.blocks = nn.ModuleList(_block(a, b, cfg) for a, b in pairwise(sizes[:-1]))
        self.latent = nn.Linear(sizes[-2], sizes[-1], bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for block in self.blocks:
            x = block(x)
            skips.append(x)
        return self.latent(x), skips


class AutoEncoder(nn.Module):
    """The mirrored decoder; with `residual` (AEwRES) each decoder block adds the encoder activation of its size."""

    def __init__(self, dim: int, cfg: SVDDConfig, residual: bool) -> None:
        super().__init__()
        self.encoder = Encoder(dim, cfg)
        sizes = (*reversed(cfg.hidden),)
        self.decoder = nn.ModuleList(_block(a, b, cfg) for a, b in pairwise(sizes))
        self.out = nn.Linear(sizes[-1], dim, bias=False)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, skips = self.encoder(x)
        for block, skip in zip(self.decoder, reversed(skips), strict=False):
            z = block(z)
            if self.residual:
                z = z + skip
        return self.out(z)


MIN_HELD_OUT = 20  # fewer validation loops than this give no stable 95th percentile: score out of fold instead


class DeepSVDDDetector(Detector):
    """kind "ae" or "aewres": which autoencoder pre-trains the Deep SVDD encoder.

    Threshold basis: the scores, under the final (restored) network, of the validation split that early
    stopping holds out. When that split has fewer than MIN_HELD_OUT loops, every loop is scored out of
    fold instead: one more network per fold (same settings and initial weights), each trained and
    early-stopped without that fold, scores it.
    """

    def __init__(
        self,
        residual: bool = True,
        config: SVDDConfig | None = None,
        quantile: float = DEFAULT_QUANTILE,
        progress: Progress | None = None,
        basis: str = HELD_OUT,
    ) -> None:
        super().__init__(quantile, basis)
        self.residual = residual
        self.kind = "aewres" if residual else "ae"
        self.config = config or SVDDConfig()
        self.progress = progress

    def _fit(self, X: np.ndarray) -> None:
        cfg = self.config
        self.folds_ = _folds(len(X), cfg)
        with _threads(cfg.threads):
            self.net_, self.c_, self.history_ = self._train_phases(X, self.folds_[0])
        history = self.history_
        self.metrics = {
            "hidden": list(cfg.hidden),
            "epochs_pretrain": len(history.get("ae_train", [])),
            "epochs_svdd": len(history["svdd_train"]),
            "val_loss_pretrain": min(history["ae_val"]) if cfg.pretrain else None,
            "val_loss_svdd": min(history["svdd_val"]),
            "validation_size": len(self.folds_[0]),
            "seed": cfg.seed,
        }

    @classmethod
    def from_options(
        cls, opts: FitOptions, params: dict[str, Any], progress: Progress | None = None
    ) -> DeepSVDDDetector:
        """One seed for every head: the fit's seed goes into the training configuration."""
        config = replace(opts.svdd or SVDDConfig(), seed=opts.seed)
        return cls(config=config, progress=progress, quantile=opts.quantile, basis=opts.threshold_basis, **params)

    def describe(self) -> str:
        m = self.metrics
        return f"epochs {m['epochs_pretrain']}+{m['epochs_svdd']}, val loss {m['val_loss_svdd']:.4g}"

    def _in_sample_scores(self, X: np.ndarray) -> np.ndarray:
        """Only the rows the network trained on; the validation split is held out."""
        keep = np.ones(len(X), bool)
        keep[self.folds_[0]] = False
        return self._score(X[keep])

    def _held_out_scores(self, X: np.ndarray) -> tuple[np.ndarray, str]:
        if len(self.folds_[0]) >= MIN_HELD_OUT or self.basis == IN_SAMPLE:
            return self._score(X[self.folds_[0]]), "held-out"
        scores = np.empty(len(X))
        scores[self.folds_[0]] = self._score(X[self.folds_[0]])
        with _threads(self.config.threads):
            for i, fold in enumerate(self.folds_[1:], start=2):
                net, c, _ = self._train_phases(X, fold, f" (held-out fold {i}/{len(self.folds_)})")
                scores[fold] = _distance(net, c, X[fold])
        return scores, "out-of-fold"

    def _train_phases(
        self, X: np.ndarray, val_idx: np.ndarray, label: str = ""
    ) -> tuple[Encoder, torch.Tensor, dict[str, list[float]]]:
        """Pre-train the autoencoder, then pull the encoder toward c; early stopping on the rows in `val_idx`.
        `label` goes after the phase name in progress reports."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        keep = np.ones(len(X), bool)
        keep[val_idx] = False
        data = torch.from_numpy(X)
        val, train = data[torch.from_numpy(val_idx)], data[torch.from_numpy(np.flatnonzero(keep))]
        if len(train) < 2:
            raise ValueError("Deep SVDD needs at least 3 training embeddings (train/validation split)")

        ae = AutoEncoder(X.shape[1], cfg, self.residual)
        history: dict[str, list[float]] = {}
        if cfg.pretrain:
            history["ae_train"], history["ae_val"] = _train(
                ae, lambda m, x: ((m(x) - x) ** 2).mean(), train, val, cfg, gen, f"pretrain{label}", self.progress
            )
        net = ae.encoder.eval()
        with torch.no_grad():
            c = net(train)[0].mean(dim=0)
        c[(c.abs() < cfg.eps) & (c < 0)] = -cfg.eps
        c[(c.abs() < cfg.eps) & (c >= 0)] = cfg.eps
        history["svdd_train"], history["svdd_val"] = _train(
            net,
            lambda m, x: ((m(x)[0] - c) ** 2).sum(dim=1).mean(),
            train,
            val,
            cfg,
            gen,
            f"svdd{label}",
            self.progress,
        )
        return net.eval(), c, history

    def _score(self, X: np.ndarray) -> np.ndarray:
        return _distance(self.net_, self.c_, X)

    def latent(self, X: np.ndarray) -> np.ndarray:
        """The encoder's output per row (the report's latent plots)."""
        with torch.no_grad():
            return self.net_(torch.from_numpy(np.asarray(X, np.float32)))[0].numpy()

    def _graph(self) -> onnx.ModelProto:
        nodes, inits, x = [], [], "embedding"
        for i, block in enumerate(self.net_.blocks):
            layers = cast(nn.Sequential, block)
            linear, bn = cast(nn.Linear, layers[0]), cast(nn.BatchNorm1d, layers[1])
            var, mean = bn.running_var, bn.running_mean
            assert var is not None, "batch norm tracks running statistics (the default)"
            assert mean is not None
            scale = 1.0 / torch.sqrt(var + bn.eps)
            inits += [
                const(f"w{i}", linear.weight.detach().T.numpy().astype(np.float32)),
                const(f"bn_scale{i}", scale.numpy().astype(np.float32)),
                const(f"bn_shift{i}", (-mean * scale).numpy().astype(np.float32)),
            ]
            nodes += [
                helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]),
                helper.make_node("Mul", [f"h{i}", f"bn_scale{i}"], [f"s{i}"]),
                helper.make_node("Add", [f"s{i}", f"bn_shift{i}"], [f"n{i}"]),
                helper.make_node("Elu", [f"n{i}"], [f"a{i}"], alpha=1.0),
            ]
            x = f"a{i}"
        inits += [
            const("w_latent", self.net_.latent.weight.detach().T.numpy().astype(np.float32)),
            const("c", self.c_.numpy().astype(np.float32)),
        ]
        nodes += [
            helper.make_node("MatMul", [x, "w_latent"], ["latent"]),
            helper.make_node("Sub", ["latent", "c"], ["offset"]),
            helper.make_node("ReduceSumSquare", ["offset"], ["score"], axes=[1], keepdims=0),
        ]
        return score_model(
            nodes, inits, self.dim_, f"Deep SVDD ({self.kind}): squared distance of the latent to the centre c"
        )


def _distance(net: Encoder, c: torch.Tensor, X: np.ndarray) -> np.ndarray:
    """The Deep SVDD score: squared distance of each row's latent to the centre."""
    with torch.no_grad():
        z = net(torch.from_numpy(np.asarray(X, np.float32)))[0]
        return ((z - c) ** 2).sum(dim=1).double().numpy()


def _folds(n: int, cfg: SVDDConfig) -> list[np.ndarray]:
    """Validation index sets: the first is the early-stopping split of the final network (val_fraction of the
    rows); the others split the remaining rows, so that together they score every row once out of fold."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).numpy()
    n_val = max(1, min(n - 2, round(cfg.val_fraction * n)))
    k = max(1, min(round(1.0 / cfg.val_fraction) - 1, n - n_val))
    return [np.sort(order[:n_val]), *(np.sort(f) for f in np.array_split(order[n_val:], k))]


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """These nets are small: on a busy CPU more threads cost more in sync than they gain. Denormals are flushed:
    AdamW's second moments of tiny gradients fall into that range and make its sqrt/div several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    np.finfo(np.float32), np.finfo(np.float64)  # cached first: numpy's first look under flush-to-zero warns
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    train: torch.Tensor,
    val: torch.Tensor,
    cfg: SVDDConfig,
    gen: torch.Generator,
    phase: str,
    progress: Progress | None,
) -> tuple[list[float], list[float]]:
    """AdamW + cosine annealing over mini-batches of the tensors in memory; early stopping on the validation loss
    (see SVDDConfig.min_delta), best epoch's weights restored. The fused AdamW kernel: one pass over each
    parameter instead of a dozen, which is most of a step's time for nets this small."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
    best, best_state = math.inf, _snapshot(model)
    reference, since_best = math.inf, 0  # reference: the loss an epoch must beat by min_delta to reset patience
    train_hist, val_hist = [], []
    for epoch in range(cfg.epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(train), generator=gen).split(cfg.batch_size):
            if len(idx) < 2:  # batch norm cannot normalise a single row
                continue
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model, val).item()
        train_hist.append(total / len(train))
        val_hist.append(val_loss)
        if progress:
            progress(phase, epoch + 1, cfg.epochs, val_loss)
        if val_loss < best:
            best, best_state = val_loss, _snapshot(model)
        if val_loss < reference * (1.0 - cfg.min_delta):
            reference, since_best = val_loss, 0
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    model.load_state_dict(best_state)
    return train_hist, val_hist
