"""The command line that trains a stored run again: :func:`train_command` (a config's ``python -m core train`` line)
and :func:`reproduce_run` (a stored run's Reproduce block on the Results page: that line, written for the numbers
this run got, with what else they depend on).

The line names its settings by the CLI's flags (``core.cli.training.train_parser``: ``--NAME`` for each flat
RunConfig name, underscores as dashes, and the graph builder's parameters by name), in ``RunConfig.flat_names()``
order, every value shell-quoted (``shlex``). ``tests/core/training/test_reproduce.py`` runs the lines it writes and
compares the stored configs.

What it writes, and why (a line must give the same config wherever it runs, whatever ``GRAPHCONV_QUICK`` says there,
so nothing is left to a default that depends on the machine):

- always ``--data``, ``--model``, ``--graph`` (for a model that takes one), ``--epochs``, ``--lr``, ``--schedule``
  and ``--seed``: what a reader looks for first;
- every setting the model reads, even at its default: quick mode has other defaults for some (an escnn net's
  depth and width), so a setting left out could mean another net where the line runs; a switch (a bool setting)
  only when it differs from its default (``--edge-frozen``, or ``--no-...`` for one that is on by default);
- a setting the model declares but does not read in this run (a superpixel net's ``K`` beside a GCN layer) only
  when it differs from the model's default, full or quick: it shapes nothing, but it is stored with the run;
- graph parameters that differ from their kind's defaults (the CLI fills in the rest as the run's config holds
  them);
- ``--augment``, ``--batch-size``, ``--device`` and ``--quick`` only when they are not the default.

Settings of other models are not written: a run stores them at their first declaration's default whatever was
asked (``RunConfig.to_dict``), and the CLI would print a note for each. A continuation (``parent`` set) has no
``train`` line: it carries on from its parent's stored weights and optimiser, so its line is
``python -m core continue PARENT --epochs MORE`` (:func:`continue_command`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError
from core.training.run_config import RunConfig, TrainingConfig, default_graph_params, setting_type
from core.training.store import Run

# training settings always written, whatever their value (the rest only when they differ from TrainingConfig's)
ALWAYS = ("epochs", "lr", "schedule", "seed")
DEVICES = ("cpu", "cuda", "mps")  # what ``--device`` may name besides ``auto`` (and ``cuda:N``)
QUICK_ENV = "GRAPHCONV_QUICK"  # core.config.quick_mode's variable: a server in quick mode trains quick-sized
EXACT_ENV = "GRAPHCONV_EXACT"  # core.training.worker.exact_mode's: a fixed thread count, the same numbers


def flag(name: str) -> str:
    """The CLI flag of flat setting or graph parameter ``name``: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _text(value: Any) -> str:
    """A value as the CLI reads it back exactly: floats by ``repr`` (the shortest form that round-trips, ``0.003``),
    the rest by ``str``."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _pair(name: str, value: Any) -> list[str]:
    """The flag and its value; a bool setting is the flag alone (True) or its ``--no-`` form (False)."""
    if setting_type(name) is bool:
        return [flag(name) if value else "--no-" + name.replace("_", "-")]
    return [flag(name), _text(value)]


def train_args(cfg: RunConfig, *, device: str | None = None) -> list[str]:
    """The arguments after ``python -m core train`` that store a run with ``cfg``'s config (see the module's notes
    for which are written); ``device`` replaces the config's device (what :func:`reproduce_run` does for a run whose
    device was ``auto``). ``UserInputError("parent")`` for a continuation: it has no ``train`` line."""
    if cfg.training.parent is not None:
        raise UserInputError(
            "parent",
            f"run continues run {cfg.training.parent}: it trains on from that run's stored state, so `python -m core "
            "continue` reproduces it, not `train`",
        )
    spec = cfg.spec()
    flat = cfg.to_dict()
    args = ["--data", str(cfg.data), "--model", str(cfg.model)]
    if cfg.uses_graph():
        args += ["--graph", str(cfg.graph)]
        defaults = default_graph_params(cfg.graph)
        for name, value in (cfg.graph_params or {}).items():
            if value is not None and defaults.get(name) != value:
                args += [flag(name), _text(value)]
    for s in spec.settings:
        value = flat[s.name]
        differs = any(value != spec.default(s.name, quick) for quick in (False, True))
        if differs or (s.applies(flat) and s.type is not bool):  # a switch reads best only when it is on
            args += _pair(s.name, value)
    base = TrainingConfig()
    training = {**flat, **({"device": device} if device is not None else {})}
    for name in ("epochs", "lr", "schedule", "augment", "batch_size", "seed", "device", "quick"):
        value = training[name]
        if name in ALWAYS or value != getattr(base, name):
            if name == "quick":
                args += [flag(name)] if value else []
            else:
                args += [flag(name), _text(value)]
    return args


def command(words: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """``python -m core WORDS...`` as one shell line, each word quoted where the shell needs it; ``env``
    (``{"GRAPHCONV_QUICK": "1"}``) goes first, as ``NAME=VALUE`` assignments for this command only."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    line = shlex.join(["python", "-m", "core", *words])
    return f"{prefix} {line}" if prefix else line


def train_command(cfg: RunConfig, *, device: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The exact ``python -m core train ...`` line that stores a new run whose config is ``cfg``'s (``to_dict``
    equal), e.g. ``python -m core train --data mnist-5k --model cheb --graph knn --k 4 --layers 2 --hidden 32
    --dropout 0.5 --readout pool --K 3 --epochs 8 --lr 0.003 --schedule constant --seed 0``.

    ``device`` replaces the config's device in the line. The config's own ``auto`` trains on a GPU where there is
    one, and a GPU's numbers are not a CPU's (other kernels, other sums' order): :func:`reproduce_run` names the
    device the run trained on, so the line gives its numbers on any machine that has that device (a stored config
    that said ``auto`` then reads ``cpu``: the one setting that differs, on purpose). ``env``: variables set for the
    command (a server in quick mode trained with ``GRAPHCONV_QUICK=1``)."""
    return command(["train", *train_args(cfg, device=device)], env)


def continue_command(parent: int, more_epochs: int) -> str:
    """``python -m core continue PARENT --epochs MORE``: a continuation of stored run ``parent``."""
    return command(["continue", str(int(parent)), "--epochs", str(int(more_epochs))])


def export_command(run_id: int) -> str:
    """``python -m core export RUN --onnx run-RUN.onnx``: the run's network as an ONNX file."""
    return command(["export", str(int(run_id)), "--onnx", f"run-{int(run_id)}.onnx"])


@dataclass(frozen=True)
class Reproduction:
    """A stored run's Reproduce block: the shell line(s) and what a reader should know beside them."""

    command: str  # one line (or a few, joined by newlines), for a bash shell in the repository
    notes: tuple[str, ...] = ()  # one sentence each


def trained_quick(run: Run, cfg: RunConfig) -> bool | None:
    """Whether stored run ``run`` trained quick-sized (1,000 digits of mnist-5k rather than 4,000), read from the
    images it counted: True, False, or None when it did not count them or the sizes cannot tell. A run whose config
    says ``quick=False`` trained quick-sized on a server in quick mode (``GRAPHCONV_QUICK``)."""
    from core.data.datasets import split_sizes

    images = run.summary.train_images
    full, quick = split_sizes(cfg.data, False)[0], split_sizes(cfg.data, True)[0]
    if images is None or full == quick:
        return None
    return True if images == quick else False if images == full else None


def run_device(run: Run, cfg: RunConfig) -> str | None:
    """The device to name in run ``run``'s line: its config's when explicit, else the one it trained on (``cpu``,
    ``cuda``, ``mps``; ``cuda:1`` as ``cuda``'s first index would not reproduce it either, so kept), None when the
    store does not say."""
    if cfg.training.device != "auto":
        return None
    used = str(run.device or "")
    return used if used in DEVICES or used.startswith("cuda:") else None


def reproduce_run(store: Any, run: Run) -> Reproduction:
    """What the Results page shows under Reproduce for stored run ``run`` (a ``core.training.store.Run``).

    A run trained from scratch: :func:`train_command` of its config, naming the device it trained on in place of
    ``auto``, and prefixed ``GRAPHCONV_QUICK=1`` when it trained quick-sized though its config did not ask (a
    server in quick mode): the stored config is then its config, device aside, and the data the same. A
    continuation: the ``continue`` line from its parent's stored state (the parent's own block retrains the
    parent). Notes say what else its numbers depend on: the CPU threads it trained with (torch splits sums by
    thread count, so the last bits differ with another count), a stop before its last epoch.
    """
    cfg = run.run_config()
    notes: list[str] = []
    epochs = store.epochs(run.id)
    if cfg.training.parent is not None:
        parent = int(cfg.training.parent)
        done = (epochs[0]["epoch"] - 1) if epochs else None
        if done is None:
            before = store.epochs(parent)
            done = before[-1]["epoch"] if before else None
        if done is None or done >= cfg.training.epochs:
            return Reproduction("", (f"Run {run.id} continues run {parent}, whose epochs the store no longer has.",))
        notes.append(
            f"Run {run.id} continues run {parent} from its stored weights, optimiser and random state (epoch {done}), "
            f"so the line trains on from run {parent} in this data folder; run {parent}'s own Reproduce block "
            "retrains it."
        )
        return Reproduction(continue_command(parent, cfg.training.epochs - done), tuple(notes))
    device = run_device(run, cfg)
    if device is not None:
        notes.append(
            f"Its config says device auto; it trained on {device}, so the line names {device}: a GPU's numbers "
            "differ from a CPU's in their last digits."
        )
    env: dict[str, str] = {}
    if not cfg.training.quick and trained_quick(run, cfg):
        env[QUICK_ENV] = "1"
        notes.append(
            f"It trained quick-sized ({run.summary.train_images:,} training digits) on a server in quick mode: "
            f"{QUICK_ENV}=1 does the same."
        )
    counts = [t for e in epochs if isinstance(t := e.get("threads"), dict) and t.get("max")]
    if counts and (device or cfg.training.device) in ("cpu", "auto"):
        from core.training.worker import EXACT_THREADS

        low, high = min(t.get("min") or t["max"] for t in counts), max(t["max"] for t in counts)
        if low == high == EXACT_THREADS:  # exact mode's count: the variable gives it from the first batch to the last
            env[EXACT_ENV] = "1"
            notes.append(
                f"It trained with {EXACT_THREADS} CPU thread throughout, as {EXACT_ENV}=1 trains: torch splits its "
                "sums by thread count, so another count changes the last digits."
            )
        else:
            notes.append(
                f"It trained with {low if low == high else f'{low} to {high}'} CPU threads (its fair share of the "
                "machine as other runs came and went); torch splits its sums by thread count, so the last digits "
                f"match only with the same count ({EXACT_ENV}=1 trains with {EXACT_THREADS} throughout)."
            )
    done = epochs[-1]["epoch"] if epochs else 0
    if run.status == "stopped" and done < cfg.training.epochs:
        notes.append(
            f"It was stopped after epoch {done} of {cfg.training.epochs}: the line trains all "
            f"{cfg.training.epochs}, the first {done} as this run did."
        )
    return Reproduction(train_command(cfg, device=device, env=env), tuple(notes))
