"""Links that carry their runs: a shared link names stored runs by id AND says what each one was, so it keeps its
meaning on a server that restarted on a fresh disk (Community Cloud after a sleep) or on another server.

A link's ``run_defs`` value holds, for each run it names (at most :data:`MAX_LINKED`), a short content hash of the
run's config (seed included), the config as stored where the link was made, and the test accuracy shown there. It is
JSON, zlib-compressed, in URL-safe base64: about 390 characters for one run, 440 for three (the configs share most
of their text). :func:`decode_defs` checks everything a browser sent: its length, the size it inflates to, its
shape, every hash against its config, and every config against the models this server has.

:func:`check_linked` then decides, for each id of a link, what a page shows:

- ``same``: the stored run with that id has the link's config: shown as it is;
- ``reused``: the id is missing or holds another config (another server's run 7), but a run with the link's config
  and seed is finished, queued or training here: that run is shown, and the page says so;
- ``missing`` / ``other``: nothing here has the link's config: the page says so in one line and offers to rebuild
  it (the same config and seed, queued like any run: :func:`rebuild_config`);
- ``unchecked``: an old link with a bare id: the run is shown with a notice that it cannot be checked;
- ``unknown``: a bare id this store does not hold.

The hash is of the config as this code reads it (``RunConfig.from_dict`` then ``to_dict``), so a config stored by an
older version with fewer keys and the same values hashes as its rebuilt copy does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.errors import UserInputError
from core.training.run_config import RunConfig, validate
from core.training.store import Run, as_run

KEY = "run_defs"  # the query parameter, the same on every page
VERSION = 1  # the payload's format; a link of another version is read as a bare-id link, with a notice
MAX_LINKED = 12  # runs one link defines (a sweep's worth); more are named by id only
MAX_TEXT = 6000  # characters of the query value a server reads at most (12 distinct runs fit in about 3,000)
MAX_INFLATED = 64_000  # bytes it may inflate to (a zip bomb stops here)
HASH_CHARS = 12  # hex digits of the sha256: enough that two different configs never meet by chance here
REUSABLE = ("finished", "queued", "running")  # a stored run with these statuses stands for the link's run


@dataclass(frozen=True)
class LinkedRun:
    """What a link says one run was."""

    id: int  # the id it had where the link was made
    hash: str  # run_hash(config)
    config: dict[str, Any]  # the config as stored there
    accuracy: float | None = None  # its test accuracy there (None: not finished when the link was made)


def normalised(config: Mapping[str, Any] | RunConfig) -> dict[str, Any]:
    """The config as this code reads it: every setting, with defaults for those an older version did not store; a
    config it cannot read (a model this server lacks) as given."""
    if isinstance(config, RunConfig):
        return config.to_dict()
    try:
        return RunConfig.from_dict(dict(config)).to_dict()
    except (UserInputError, TypeError, ValueError, KeyError):
        return dict(config)


def run_hash(config: Mapping[str, Any] | RunConfig) -> str:
    """A short content hash of a run's config, seed included: equal hashes, identical runs."""
    given = config.to_dict() if isinstance(config, RunConfig) else config
    return _hash_of(json.dumps(given, sort_keys=True, separators=(",", ":"), default=str))


@lru_cache(maxsize=4096)
def _hash_of(text: str) -> str:
    """run_hash of a config's JSON text (cached: a page checks a link against every stored run)."""
    canonical = json.dumps(normalised(json.loads(text)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_CHARS]


def encode_defs(runs: Iterable[Run | Mapping[str, Any]]) -> str:
    """The ``run_defs`` value for ``runs`` (stored runs or their dict form; the first :data:`MAX_LINKED` distinct
    ids); "" for none."""
    entries: dict[str, list[Any]] = {}
    for given in runs:
        run = as_run(given)
        if str(run.id) in entries or len(entries) >= MAX_LINKED:
            continue
        accuracy = run.summary.test_accuracy
        entries[str(run.id)] = [run_hash(run.config), run.config, None if accuracy is None else round(accuracy, 6)]
    if not entries:
        return ""
    text = json.dumps({"v": VERSION, "runs": entries}, sort_keys=True, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def _refuse(why: str) -> UserInputError:
    return UserInputError(KEY, f"{why}; the link's runs are named by number only")


def decode_defs(text: str | None, key: str = KEY) -> dict[int, LinkedRun]:
    """:func:`read_defs` of the query value under ``key`` (``run_defs``; Compare's sweeps: ``sw_defs``), its
    ``UserInputError`` naming that key."""
    try:
        return read_defs(text)
    except UserInputError as err:
        if key == KEY:
            raise
        raise UserInputError(key, str(err).split(": ", 1)[-1]) from None


def read_defs(text: str | None) -> dict[int, LinkedRun]:
    """What a link's ``run_defs`` says, by run id; {} for none. ``UserInputError`` (one line, naming ``run_defs``)
    for a value that is too long, does not decode, inflates too far, has another shape, or whose hash does not match
    its config; a config this server cannot train is refused there too, naming the run."""
    if not text:
        return {}
    if len(text) > MAX_TEXT:
        raise _refuse(f"the run definitions are {len(text):,} characters, more than the {MAX_TEXT:,} read")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), MAX_INFLATED)
    except (binascii.Error, zlib.error, ValueError):
        raise _refuse("the run definitions do not decode (the link was cut or changed)") from None
    if inflater.unconsumed_tail:
        raise _refuse(f"the run definitions inflate to more than {MAX_INFLATED:,} bytes")
    try:
        payload = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise _refuse("the run definitions do not decode (the link was cut or changed)") from None
    if not isinstance(payload, dict) or payload.get("v") != VERSION or not isinstance(payload.get("runs"), dict):
        raise _refuse("the run definitions are not of a form this version reads")
    entries = payload["runs"]
    if len(entries) > MAX_LINKED:
        raise _refuse(f"the link defines {len(entries)} runs, more than {MAX_LINKED}")
    out: dict[int, LinkedRun] = {}
    for key, entry in entries.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) <= 9):
            raise _refuse(f"{key!r} is not a run id")
        if not (
            isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str) and isinstance(entry[1], dict)
        ):
            raise _refuse(f"run {key}'s definition is not of a form this version reads")
        digest, config, accuracy = entry
        ok_accuracy = accuracy is None or (
            isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy)
        )
        if not ok_accuracy or not 0 <= (accuracy or 0) <= 1:
            raise _refuse(f"run {key}'s accuracy is not a fraction")
        if run_hash(config) != digest:
            raise _refuse(f"run {key}'s settings do not match their hash (the link was changed)")
        out[int(key)] = LinkedRun(int(key), digest, config, accuracy)
    return out


def rebuild_config(linked: LinkedRun) -> RunConfig:
    """The config that trains the link's run again (the same settings and seed), validated for this server:
    ``UserInputError`` naming the setting when it cannot (a model or data set this server lacks, a value out of
    range here)."""
    return validate(RunConfig.from_dict(dict(linked.config)))


@dataclass(frozen=True)
class LinkCheck:
    """What a page shows for one run id of a link."""

    asked: int  # the id in the link
    state: str  # same, reused, missing, other, unchecked, unknown (see the module's docstring)
    run: Run | None = None  # the stored run to show (the asked id's, or the identical run reused); None: none
    linked: LinkedRun | None = None  # what the link says the run was (None: a bare id)
    stored: Run | None = None  # what this store holds under the asked id, when that is another run

    @property
    def rebuildable(self) -> bool:
        """Nothing here has the link's config: the page offers to train it again."""
        return self.state in ("missing", "other")

    def message(self, title: Any = None) -> str:
        """One line for the page ("" for a run that is what the link says). ``title(run_or_dict)`` names a run
        (``core.training.runs.run_title``); the default names it by id."""
        name = title or (lambda r: f"run {as_run(r).id}")
        if self.state == "same":
            return ""
        if self.state == "unchecked":
            return (
                f"This link names run {self.asked} by its number only (it was made before links carried their runs), "
                "so it cannot be checked against the run it was made for."
            )
        if self.state == "unknown":
            return f"Run {self.asked} is not in the run store (the server may have restarted on a fresh disk)."
        assert self.linked is not None
        what = name({"id": self.asked, "config": self.linked.config})
        figure = f", {self.linked.accuracy:.1%} where the link was made" if self.linked.accuracy is not None else ""
        if self.state == "reused":
            assert self.run is not None
            done = {"finished": "were trained", "running": "are training"}.get(self.run.status, "are queued")
            return (
                f"The same settings and seed as the link's {what}{figure} {done} in run {self.run.id}: shown here; "
                "change the seed to train your own."
            )
        if self.state == "other":
            assert self.stored is not None
            return (
                f"Run {self.asked} on this server is another run ({name(self.stored)}), not the link's "
                f"{what}{figure}: it was not trained here."
            )
        said = f"The link's {what}{figure}{',' if figure else ''}"
        return f"{said} is not on this server (it may have restarted on a fresh disk)."


def check_linked(store: Any, ids: Sequence[int], defs: Mapping[int, LinkedRun]) -> list[LinkCheck]:
    """For each id of a link, what the page shows (:class:`LinkCheck`), reading the store once for the ids and once
    for identical runs when one is needed."""
    checks: list[LinkCheck] = []
    pool: list[Run] | None = None
    for asked in ids:
        stored = store.run(int(asked))
        linked = defs.get(int(asked))
        if linked is None:
            checks.append(LinkCheck(asked, "unchecked" if stored is not None else "unknown", stored))
            continue
        if stored is not None and run_hash(stored.config) == linked.hash:
            checks.append(LinkCheck(asked, "same", stored, linked))
            continue
        if pool is None:
            pool = store.runs(status=list(REUSABLE))
        twins = [r for r in pool if run_hash(r.config) == linked.hash]
        if twins:
            rank = {status: i for i, status in enumerate(REUSABLE)}
            best = min(twins, key=lambda r: (rank.get(r.status, len(rank)), r.id))
            checks.append(LinkCheck(asked, "reused", best, linked, stored))
        else:
            checks.append(LinkCheck(asked, "other" if stored is not None else "missing", None, linked, stored))
    return checks
