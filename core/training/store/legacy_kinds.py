"""The one reader of run ``kind`` strings that held a group, from before run groups were stored.

Versions before schema 3 grouped runs by packing the group into the run's ``kind``: ``sweep:<ms>[:<param>...]``
(a lesson's sweep part ending ``:lesson-<key>``), ``search:<ms>:<asha|full>:<param>...``,
``lesson:<key>:<mode>[:<stamp>]`` (a stamp ending ``-s<seed>`` for a seed other than 0). The store's migration to
schema 3 (:func:`adopt_kind_groups`) turns every such kind into a :class:`RunGroup` with the same id; links written
then (``sw_show=sweep:...``, ``ls_show=lesson:karate:quick``) and callers that still pass a kind string go through
:func:`group_from_kind`. No other code parses a kind: everything else reads a group's fields.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import replace

from core.training.store.groups import RunGroup

MODES = ("quick", "full")
_STAMP = re.compile(r"^[A-Za-z0-9-]+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_SEED_TAIL = re.compile(r"-s([0-9]{1,10})$")  # a lesson launch's stamp ends so when its seed is not 0
LESSON_PART = "lesson-"  # a lesson's sweep part names its lesson last: ``sweep:<stamp>:...:lesson-<key>``


def _parse(kind: str | None) -> tuple[RunGroup, str] | None:
    """(group, stamp) of an old group kind, or None for any other string (a plain kind, a bad link value)."""
    if not isinstance(kind, str) or len(kind) > 200:
        return None
    parts = kind.split(":")
    head = parts[0]
    if head == "sweep" and len(parts) >= 2 and _STAMP.match(parts[1]):
        rest, lesson = parts[2:], ""
        if rest and rest[-1].startswith(LESSON_PART):
            lesson, rest = rest[-1][len(LESSON_PART) :], rest[:-1]
        if not all(_NAME.match(p) for p in rest) or (lesson and not _NAME.match(lesson)):
            return None
        return RunGroup("sweep", kind, params=tuple(rest), lesson=lesson), parts[1]
    if head == "search" and len(parts) >= 4 and _STAMP.match(parts[1]) and parts[2] in ("asha", "full"):
        if not all(_NAME.match(p) for p in parts[3:]):
            return None
        return RunGroup("search", kind, params=tuple(parts[3:]), early_stopping=parts[2] == "asha"), parts[1]
    if head == "lesson" and len(parts) in (3, 4) and _NAME.match(parts[1]) and parts[2] in MODES:
        stamp = parts[3] if len(parts) == 4 else ""
        if len(parts) == 4 and not _STAMP.match(stamp):
            return None
        found = _SEED_TAIL.search(stamp)
        seed = int(found.group(1)) if found and int(found.group(1)) < 2**31 else 0
        return RunGroup("lesson", kind, lesson=parts[1], mode=parts[2], seed=seed), stamp
    return None


def group_from_kind(kind: str | None) -> RunGroup | None:
    """The group an old ``kind`` string (or a link's value written then) names, None for anything else."""
    parsed = _parse(kind)
    return parsed[0] if parsed else None


def adopt_kind_groups(conn: sqlite3.Connection) -> None:
    """Schema 3's data step: a group for every distinct old group kind, and each of its runs' ``group_id``. A lesson
    launch finds its sweep part by the stamp both kinds share (its ``parts``); ``kind`` itself is left as it was."""
    rows = conn.execute("SELECT kind, MIN(created_at) FROM runs WHERE kind IS NOT NULL GROUP BY kind").fetchall()
    found = [(p, at) for p, at in ((_parse(kind), at) for kind, at in rows) if p is not None]
    sweeps = {(g.lesson, stamp): g.id for (g, stamp), _ in found if g.type == "sweep" and g.lesson}
    for (group, stamp), created in found:
        if group.type == "lesson" and (group.lesson, stamp) in sweeps:
            group = replace(group, parts=(("sweep", sweeps[group.lesson, stamp]),))
        conn.execute(
            "INSERT OR IGNORE INTO run_groups (id, type, created_at, fields) VALUES (?, ?, ?, ?)",
            (group.id, group.type, float(created or time.time()), group.fields_json()),
        )
        conn.execute("UPDATE runs SET group_id = ? WHERE kind = ?", (group.id, group.id))
