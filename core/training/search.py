"""Hyper-parameter searches: N trials over chosen settings, drawn at random or as a grid.

A search space maps settings (any of the sweep's ``SWEEPABLE`` ones) to either listed values
(``K=3,5,8``) or a range (``lr=1e-4..1e-2``). ``random`` draws every trial's values with its own seeded
generator (a float range log-uniformly when both ends are positive, since learning rates and kernel
widths matter by ratio; an int range uniformly); ``grid`` takes every combination of listed values.
All trials' configs are drawn and validated before any is submitted, so every trial is a stored run from
the start, with its values in its config.

On a Ray backend a search runs with Ray Tune and its ASHA early stopping (``core.training.tune_search``);
on worker processes the same trials train to their last epoch. Either way the trials share one run group
(:func:`new_search_group`: a ``RunGroup`` of type ``search`` with its settings and whether ASHA stops trials early),
which the Compare page lists beside sweeps.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError
from core.training.runs import RunConfig, validate
from core.training.store import Run, as_run
from core.training.store.groups import RunGroup
from core.training.sweep import MAX_SWEEP_RUNS, SWEEPABLE, parse_values, sweep_configs, sweep_value

SAMPLERS = ("random", "grid")
MAX_TRIALS = MAX_SWEEP_RUNS  # one session may have this many runs queued or training (GRAPHCONV_SESSION_RUNS)
ASHA_GRACE = 1  # ASHA: epochs every trial trains before it can be stopped
ASHA_REDUCTION = 2  # ASHA: at each rung (epoch 1, 2, 4, ...) only the best 1/2 of the trials so far go on


@dataclass(frozen=True)
class Range:
    """A continuous (float) or whole-number (int) interval to draw from, ends included."""

    low: int | float
    high: int | float

    def draw(self, rng: random.Random) -> int | float:
        if isinstance(self.low, int) and isinstance(self.high, int):
            return rng.randint(self.low, self.high)
        if self.low > 0:  # log-uniform: 1e-4..1e-2 puts as many draws below 1e-3 as above
            return float(f"{math.exp(rng.uniform(math.log(self.low), math.log(self.high))):.3g}")
        return float(f"{rng.uniform(self.low, self.high):.3g}")


Domain = list | Range


def parse_space(specs: Sequence[str]) -> dict[str, Domain]:
    """``["lr=1e-4..1e-2", "K=3,5,8"]`` -> {"lr": Range(1e-4, 1e-2), "K": [3, 5, 8]}; UserInputError names a bad one."""
    space: dict[str, Domain] = {}
    for spec in specs:
        name, sep, text = (part.strip() for part in str(spec).partition("="))
        if not sep or not name or not text:
            raise UserInputError("space", f"write each setting as name=values or name=low..high, got {spec!r}")
        if name in space:
            raise UserInputError("space", f"{name!r} is given twice")
        space[name] = parse_domain(name, text)
    if not space:
        raise UserInputError("space", "choose at least one setting to search")
    return space


def parse_domain(name: str, text: str) -> Domain:
    """One setting's values: a comma list (typed like a sweep's) or ``low..high`` for a number setting."""
    if ".." not in text:
        return parse_values(name, text)
    if name not in SWEEPABLE:
        raise UserInputError("space", f"cannot search {name!r} (choose from {', '.join(SWEEPABLE)})")
    cast = SWEEPABLE[name][1]
    if cast not in (int, float):
        raise UserInputError(name, f"a range needs a number setting; list {name}'s values instead")
    low_text, _, high_text = text.partition("..")
    try:
        low, high = cast(low_text.strip()), cast(high_text.strip())
    except ValueError:
        raise UserInputError(name, f"a range is low..high with {cast.__name__} ends, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise UserInputError(name, f"a range needs low < high, got {text!r}")
    return Range(low, high)


def describe_space(space: dict[str, Domain]) -> str:
    """Back to the text form, e.g. ``lr=0.0001..0.01 K=3,5,8``."""
    return " ".join(
        f"{k}={v.low}..{v.high}" if isinstance(v, Range) else f"{k}={','.join(map(str, v))}" for k, v in space.items()
    )


def draw_trials(space: dict[str, Domain], trials: int, sampler: str = "random", seed: int = 0) -> list[dict[str, Any]]:
    """The settings of every trial: ``trials`` distinct random draws, or every combination for ``grid``."""
    if sampler not in SAMPLERS:
        raise UserInputError("sampler", f"unknown sampler {sampler!r} (choose from {', '.join(SAMPLERS)})")
    if sampler == "grid":
        ranged = [k for k, v in space.items() if isinstance(v, Range)]
        if ranged:
            raise UserInputError(ranged[0], "a grid takes listed values (e.g. 3,5,8), not a range")
        listed = [v for v in space.values() if isinstance(v, list)]  # every domain (no range, said above)
        combos = [dict(zip(space, values, strict=True)) for values in itertools.product(*listed)]
        if len(combos) > MAX_TRIALS:
            raise UserInputError("space", f"the grid has {len(combos)} combinations; a search has at most {MAX_TRIALS}")
        return combos
    if not 1 <= int(trials) <= MAX_TRIALS:
        raise UserInputError("trials", f"must be between 1 and {MAX_TRIALS}, got {trials}")
    listed = [v for v in space.values() if isinstance(v, list)]
    if len(listed) == len(space):  # no range: the space is finite
        size = math.prod(len(v) for v in listed)
        if trials > size:
            raise UserInputError(
                "trials", f"the space has only {size} distinct settings; ask for at most {size} trials, or add a range"
            )
    rng, drawn, seen = random.Random(seed), [], set()
    for _ in range(100 * trials):
        values = {k: (v.draw(rng) if isinstance(v, Range) else rng.choice(v)) for k, v in space.items()}
        key = tuple(values.items())
        if key not in seen:
            seen.add(key)
            drawn.append(values)
            if len(drawn) == trials:
                return drawn
    raise UserInputError("space", f"could only draw {len(drawn)} distinct trials from {describe_space(space)}")


def trial_config(base: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``base`` with one trial's values applied (in order, as a sweep applies one value) and validated."""
    cfg = base
    for param, value in values.items():
        cfg = sweep_configs(cfg, param, [value])[0]
    return validate(cfg)


def search_configs(
    base: RunConfig, space: dict[str, Domain], trials: int = 8, sampler: str = "random", seed: int = 0
) -> list[RunConfig]:
    """Every trial's validated config (none is submitted if any is invalid)."""
    return [trial_config(base, values) for values in draw_trials(space, trials, sampler, seed)]


def new_search_group(space: dict[str, Domain], early_stopping: bool) -> RunGroup:
    """A fresh group for one search's trials, with its settings and whether ASHA stops them early (its id spelled
    ``search:<ms>:<asha|full>:<setting>:...``, as older versions spelled the search's kind)."""
    group_id = ":".join(["search", str(int(time.time() * 1000)), "asha" if early_stopping else "full", *space])
    return RunGroup("search", group_id, params=tuple(space), early_stopping=bool(early_stopping))


def searched(group: RunGroup) -> list[str]:
    """The settings a search group searched (those this version can still sweep)."""
    return [p for p in group.params if p in SWEEPABLE]


def trial_rows(
    runs: Sequence[Run | Mapping[str, Any]], params: Sequence[str], reached: dict[int, int]
) -> list[dict[str, Any]]:
    """One row per trial (stored run, or its dict form): its searched values, status, epochs ``reached`` (run id ->
    stored epochs) of its planned ones, and accuracy; best first."""
    rows = []
    for r in map(as_run, runs):
        rows.append(
            {
                "run": r.id,
                **{p: sweep_value(r.config, p) for p in params},
                "status": r.status,
                "epochs": f"{reached.get(r.id, 0)} of {r.config.get('epochs')}",
                "stopped early": r.summary.early_stopped,
                "test accuracy": r.summary.test_accuracy,
            }
        )
    return sorted(rows, key=lambda row: -(row["test accuracy"] or -1))
