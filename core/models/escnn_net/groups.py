"""Group names and schedules: the one group parser of the project, group schedules (a group per conv block, each
a subgroup of the one before), and the one map from a rotation or mirrored rotation to escnn's group element.

No escnn import here: ``escnn_element_of`` works on the escnn group (or gspace) it is handed.
"""

from __future__ import annotations

import itertools
import math

from core.errors import UserInputError

GROUPS: tuple[str, ...] = ("C1", "C2", "C4", "C8", "C16", "D1", "D2", "D4", "D8", "D16", "SO2")  # EscnnNet's groups
FAMILIES = ("C", "D")  # the finite families: cyclic C_N, dihedral D_N
MAX_N = 32  # the largest N of a finite group (``parse_group(..., finite=True)``)


def parse_group(name: str, finite: bool = False) -> tuple[str, int]:
    """``"C8"`` -> ``("C", 8)``, ``"d4"`` -> ``("D", 4)``, ``"SO2"`` -> ``("SO2", -1)``: the one group parser.

    By default it accepts the groups a net trains with (:data:`GROUPS`, case-insensitive); ``finite=True`` accepts
    any ``CN`` / ``DN`` with ``1 <= N <= MAX_N`` (e.g. ``C5``, not ``SO2``: the groups ``core.analysis.groups``
    describes). Anything else raises ``UserInputError("group", ...)``.
    """
    key = name.strip().upper() if isinstance(name, str) else ""
    kind, digits = key[:1], key[1:]
    if finite:
        if kind not in FAMILIES or not digits.isdigit() or not 1 <= int(digits) <= MAX_N:
            raise UserInputError(
                "group",
                f"unsupported group {name!r} (expected CN or DN with 1 <= N <= {MAX_N}, "
                "e.g. C4 or D8; SO2 has no finite regular representation)",
            )
        return kind, int(digits)
    if key not in GROUPS:
        raise UserInputError("group", f"unsupported group {name!r} (choose from {', '.join(GROUPS)})")
    if key == "SO2":
        return "SO2", -1
    return kind, int(digits)


def parse_schedule(text: str, layers: int | None = None) -> list[str]:
    """A group per conv block: ``"D16,D16,C16"`` -> ``["D16", "D16", "C16"]``; one group (``"C8"``) is used by
    every block (``layers`` of them; a one-entry list when ``layers`` is None).

    Each group must be a subgroup of the one before (``C_M`` of ``C_N`` or ``D_N`` and ``D_M`` of ``D_N`` when M
    divides N; the trivial group ``C1`` of any), so that the feature fields of one block can be *restricted*
    to the next block's group (escnn's ``RestrictionModule``; Weiler & Cesa 2019, section 3.5). SO2 and the
    pure reflection group D1 take part only as a whole schedule of their own. A schedule of several groups
    must have one entry per block. Raises ``UserInputError("group", ...)`` with one line saying what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise UserInputError(
            "group", "empty group schedule: give a group (e.g. C8) or one per block (e.g. D16,D16,C16)"
        )
    names = [part.strip().upper() for part in text.split(",")]
    if any(not n for n in names):
        raise UserInputError("group", f"empty entry in the group schedule {text!r}")
    for n in names:
        parse_group(n)
    if len(set(names)) == 1:
        return names[:1] * (layers if layers is not None else len(names))
    if layers is not None and len(names) != layers:
        raise UserInputError(
            "group",
            f"the schedule {','.join(names)} has {len(names)} groups but the net has {layers} "
            f"blocks: give one group per block (or set layers to {len(names)})",
        )
    for prev, nxt in itertools.pairwise(names):
        if nxt != prev and ("SO2" in (prev, nxt) or nxt == "D1"):
            raise UserInputError("group", f"{prev} -> {nxt}: SO2 and D1 cannot be restricted to or from in a schedule")
        if not is_subgroup(nxt, prev):
            raise UserInputError(
                "group",
                f"{nxt} is not a subgroup of {prev} in the schedule {','.join(names)}: each "
                "block's group must be a subgroup of the one before (e.g. D16,D16,C16 or C8,C4,C1)",
            )
    return names


def schedule_name(schedule: list[str]) -> str:
    """``["C8", "C8"]`` -> ``"C8"``; ``["D16", "D16", "C16"]`` -> ``"D16,D16,C16"``."""
    return schedule[0] if len(set(schedule)) == 1 else ",".join(schedule)


def is_subgroup(sub: str, group: str) -> bool:
    """Whether ``sub`` is (as escnn embeds it) a subgroup of ``group``: C_M < C_N, C_M < D_N, D_M < D_N for M | N."""
    (ks, ns), (kg, ng) = parse_group(sub), parse_group(group)
    if sub.strip().upper() == group.strip().upper():
        return True
    if "SO2" in (ks, kg):
        return False
    if ks == "D" and kg == "C":
        return False
    return ng % ns == 0


def restriction_id(group: str, sub: str):
    """escnn's subgroup id for restricting fields of ``group`` (a gspace built for it) to ``sub``."""
    (kg, _), (ks, ns) = parse_group(group), parse_group(sub)
    if kg == "C":
        return ns
    return (None, ns) if ks == "C" else (0, ns)


def restriction_depth(schedule: str) -> int:
    """The block after which the schedule first changes group (``"D16,D16,C16"`` -> 2); 0 if it never does."""
    names = parse_schedule(schedule)
    return next((i for i, (a, b) in enumerate(itertools.pairwise(names), 1) if a != b), 0)


def restricted_schedule(full: str, sub: str, layers: int, depth: int) -> str:
    """``full`` for the first ``depth`` blocks, then ``sub`` (``depth`` 0: ``full`` throughout, never restricted)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth < layers:
        raise UserInputError(
            "restriction",
            f"depth must be a whole number in [0, {layers - 1}] for {layers} blocks "
            f"(0 = never restrict), got {depth!r}",
        )
    names = [full] * layers if depth == 0 else [full] * depth + [sub] * (layers - depth)
    return ",".join(parse_schedule(",".join(names), layers)) if len(set(names)) > 1 else full.strip().upper()


def escnn_element_of(group, angle: float, flip: bool = False):
    """escnn's element of ``group`` (an escnn group, or a gspace: its fibre group) that mirrors left-right if ``flip``
    and then rotates by ``angle`` degrees counter-clockwise (escnn's dihedral / O(2) element ``(flip, rotation)``);
    None when the group has no such element (a flip in a rotation group, an angle off C_N's grid, another group).

    The one map from this project's elements (``core.analysis.equivariance.Element``) to escnn's.
    """
    G = getattr(group, "fibergroup", group)
    cls = type(G).__name__
    theta = math.radians(angle)
    if cls == "SO2":
        return None if flip else G.element(theta, "radians")
    if cls == "O2":
        return G.element((int(flip), theta), "radians")
    n = getattr(G, "N", None) or getattr(G, "rotation_order", None)
    if n is None:
        return None
    k = angle * n / 360.0
    if abs(k - round(k)) > 1e-6:
        return None
    k = round(k) % n
    if cls == "CyclicGroup":
        return None if flip else G.element(k)
    if cls == "DihedralGroup":
        return G.element((int(flip), k))
    return None
