"""The CLI's commands that build or measure without storing a run: graph, download, bench, karate, equivariance."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.training import graph_params
from core.errors import UserInputError


def cmd_graph(args: argparse.Namespace) -> dict[str, Any]:
    from core.data.datasets import load_dataset
    from core.graphs import build_graph, normalize

    params = graph_params(args, args.kind, fill_defaults=False)
    image = None
    if args.kind == "superpixels" or args.image is not None:
        ds = load_dataset("mnist-5k", quick=False)
        n = len(ds.x_train)
        idx = 0 if args.image is None else args.image
        if not 0 <= idx < n:
            raise UserInputError("image", f"index {idx} is out of range [0, {n - 1}]")
        image = ds.x_train[idx].numpy()
    g = build_graph(args.kind, image=image, **params) if image is not None else build_graph(args.kind, **params)
    g = normalize(g, args.norm)
    out = g.summary()
    if image is not None:
        out["image"] = idx
    return out


def cmd_download(args: argparse.Namespace) -> dict[str, Any]:
    from core.data.datasets import download_mnist

    path = download_mnist()
    return {"dataset": "mnist", "path": str(path)}


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from core.bench import run_benchmark, run_full_epoch

    if args.full_epoch:
        return run_full_epoch(images=args.images, batch_size=args.batch_size, device=args.device or "auto")
    if args.images is not None:
        raise UserInputError("images", "applies to --full-epoch only")
    return run_benchmark(epochs=args.epochs, quick=args.quick, batch_size=args.batch_size, device=args.device or "cpu")


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise UserInputError("hidden", f"must be comma-separated whole numbers, e.g. 16,8,2; got {text!r}") from None


def cmd_karate(args: argparse.Namespace) -> dict[str, Any]:
    from core.analysis.karate import train_karate

    given = {name: getattr(args, name) for name in ("epochs", "lr", "seed") if getattr(args, name) is not None}
    if args.hidden is not None:
        given["widths"] = _widths(args.hidden)
    return train_karate(args.model, **given).summary()


def _angles(text: str) -> list[float]:
    import math

    out: list[float] = []
    for part in text.split(","):
        try:
            a = float(part.strip())
        except ValueError:
            raise UserInputError(
                "angles", f"must be comma-separated numbers of degrees, e.g. 0,90,180,270; got {text!r}"
            ) from None
        if not math.isfinite(a):
            raise UserInputError("angles", f"{part.strip()!r} is not a finite angle")
        if a not in out:
            out.append(a)
    return out


def cmd_equivariance(args: argparse.Namespace) -> dict[str, Any]:
    """Measure a stored run's model: accuracy on rotated test digits, logit invariance, per-layer errors."""
    from core.analysis.equivariance import (
        DEFAULT_ANGLES,
        accuracy_by_angle,
        layer_equivariance_error,
        logit_invariance_error,
    )
    from core.analysis.results import load_run_model
    from core.models.escnn_net import parse_group
    from core.training.store import CheckpointError, RunNotFoundError

    angles = _angles(args.angles) if args.angles is not None else [float(a) for a in DEFAULT_ANGLES]
    if args.images < 1:
        raise UserInputError("images", f"must be at least 1 (got {args.images})")
    if args.group is not None:
        parse_group(args.group)  # UserInputError("group") before the model is loaded
    try:
        model, cfg, ds = load_run_model(args.run)
    except (RunNotFoundError, CheckpointError) as err:
        raise UserInputError("run", str(err)) from None
    if cfg.model == "superpixel":
        raise UserInputError(
            "run",
            f"run {args.run} is a superpixel model: it reads per-image graphs, so pixel "
            "rotations cannot be measured on it",
        )
    group = (args.group or (cfg.value("group") if cfg.spec().setting("group") is not None else "C4")).strip().upper()
    n = min(int(args.images), len(ds.y_test))
    x, y = ds.x_test[:n], ds.y_test[:n]
    acc = accuracy_by_angle(model, x, y, angles=angles)
    logits = logit_invariance_error(model, x, group)
    out: dict[str, Any] = {
        "run_id": args.run,
        "model": cfg.model,
        "label": cfg.label(),
        "data": cfg.data,
        "group": group,
        "images": n,
        "accuracy_by_angle": {f"{round(a, 6):g}": v for a, v in acc.items()},
        "logit_invariance_error": {el: r["error"] for el, r in logits.items()},
        "prediction_agreement": {el: r["agree"] for el, r in logits.items()},
        "exact": {el: r["exact"] for el, r in logits.items()},
    }
    if args.layers:
        layers = layer_equivariance_error(model, x[: min(n, 64)], group)
        out["layer_equivariance_error"] = {
            name: {el: (v if v == v else None) for el, v in row.items()}  # NaN -> null
            for name, row in layers.items()
        }
    return out
