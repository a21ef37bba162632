"""Run groups: the sweeps, searches and lesson launches whose runs belong together, as typed records.

A :class:`RunGroup` has a type (``sweep``, ``search``, ``lesson``), an id, and the fields its pages need: a sweep's
swept settings, a search's searched settings and whether ASHA stops its trials early, a lesson launch's lesson,
mode and seed and the ids of its parts (the rotation lesson's restriction sweep is a sweep group of its own).
The store keeps each group in ``run_groups`` and each grouped run's ``group_id``
(:meth:`~core.training.store.RunStore.save_group`, ``create_run(group=...)``,
:meth:`~core.training.store.RunStore.groups`).

A group's id is what links carry (Compare's ``sw_show`` and ``se_show``, Lessons' ``ls_show``). New ids keep the
spelling older versions gave their runs' ``kind`` (``sweep:<ms>:<param>``, ``search:<ms>:asha:<param>...``,
``lesson:<key>:<mode>:<stamp>``), so a link or a tool that holds one still matches; nothing reads fields out of an
id. Runs and links from before groups were stored are read once by ``core.training.store.legacy_kinds``, the one
place that parses such a string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

GROUP_TYPES: tuple[str, ...] = ("sweep", "search", "lesson")


@dataclass(frozen=True)
class RunGroup:
    """One sweep, search or lesson launch; its runs carry its ``id`` as their ``group_id``."""

    type: str  # one of GROUP_TYPES
    id: str
    params: tuple[str, ...] = ()  # sweep: the swept settings (a grid's second last); search: the searched ones
    early_stopping: bool = False  # search: Ray Tune's ASHA stops weak trials early
    lesson: str = ""  # lesson launch: its lesson's key; a lesson's sweep part: the lesson it belongs to
    mode: str = ""  # lesson launch: "quick" or "full"
    seed: int = 0  # lesson launch: the seed of all its runs
    parts: tuple[tuple[str, str], ...] = field(default=())  # lesson launch: (part, group id) of its other parts
    created_at: float = 0.0  # when the store first saw it (0 before it is stored)

    def __post_init__(self) -> None:
        if self.type not in GROUP_TYPES:
            raise ValueError(f"run group type must be one of {', '.join(GROUP_TYPES)}; got {self.type!r}")
        if not self.id:
            raise ValueError("a run group needs an id")

    def __str__(self) -> str:
        """A group reads as its id (what a link carries)."""
        return self.id

    def part(self, name: str) -> str:
        """The id of the group holding this launch's ``name`` part ("main": this group itself)."""
        return self.id if name == "main" else dict(self.parts).get(name, self.id)

    def member_ids(self) -> list[str]:
        """This group's id and its parts' ids: every group whose runs belong to it, itself first."""
        return [self.id] + [gid for _, gid in self.parts if gid != self.id]

    def fields_json(self) -> str:
        """The fields beyond type and id, as the store's ``fields`` column holds them (defaults left out)."""
        skip = {"type", "id", "created_at"}
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in skip or value == f.default:
                continue
            out[f.name] = dict(value) if f.name == "parts" else list(value) if isinstance(value, tuple) else value
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_row(cls, type_: str, id_: str, fields_text: str, created_at: float = 0.0) -> RunGroup:
        """A ``run_groups`` row back as a group (unknown fields, from a newer version, are left out)."""
        data: Mapping[str, Any] = json.loads(fields_text or "{}")
        known = {f.name for f in fields(cls)} - {"type", "id", "created_at"}
        kept = {k: v for k, v in data.items() if k in known}
        if "params" in kept:
            kept["params"] = tuple(str(p) for p in kept["params"])
        if "parts" in kept:
            kept["parts"] = tuple(sorted((str(k), str(v)) for k, v in dict(kept["parts"]).items()))
        return cls(type_, id_, created_at=float(created_at or 0.0), **kept)
