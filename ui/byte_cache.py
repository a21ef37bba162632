"""Caches bounded in bytes, not entries: ``ByteLRU`` and the ``cached`` decorator the pages use.

``st.cache_resource(max_entries=n)`` counts entries, and one entry may be a 613,872-edge graph or a model with its
data set: a visitor who moves a slider fills it with ``n`` of the largest. A ``ByteLRU`` measures each entry
(``entry_blocks``: the memory blocks of every tensor, array and bytes object it reaches, through tuples, dicts,
dataclasses, objects' attributes and a model's parameters and buffers) and drops the least recently used entries
while the total is over its budget. A block shared by several entries (the dense graphs' one edge index, a data set
two runs share) is counted once. An entry larger than the whole budget is returned but not kept.

One pool may serve several cached functions (its keys carry the function's identity), and every session of the
server shares it: it is thread-safe, and a value being computed for one session is waited for, not computed again,
by another that asks for the same key.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import streamlit as st
import torch

T = TypeVar("T")
MB = 1024 * 1024
MISSING: Any = object()  # ``ByteLRU.get``'s default: no entry for the key
MAX_OBJECTS = 200_000  # objects one measurement visits at most (a runaway object graph is measured in part)
_ATOMS = (
    str,
    int,
    float,
    complex,
    bool,
    type(None),
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    functools.partial,
    threading.Thread,
)


def _tensor_blocks(t: torch.Tensor, blocks: dict) -> None:
    if t.layout != torch.strided:  # sparse: its parts hold the memory
        parts = (
            (t._indices(), t._values())
            if t.layout == torch.sparse_coo
            else (t.crow_indices(), t.col_indices(), t.values())
            if t.layout == torch.sparse_csr
            else ()
        )
        for part in parts:
            _tensor_blocks(part, blocks)
        return
    try:
        storage = t.untyped_storage()
        ptr, size = storage.data_ptr(), storage.nbytes()
    except (RuntimeError, NotImplementedError):  # a tensor without storage (meta, functional)
        ptr, size = id(t), t.element_size() * t.nelement()
    if size:
        blocks[("mem", t.device.type, ptr or id(t))] = size
    if t.is_leaf and t.grad is not None:  # only a leaf keeps a .grad (reading a non-leaf's warns in the log)
        _tensor_blocks(t.grad, blocks)


def _array_blocks(a: np.ndarray, blocks: dict) -> None:
    while isinstance(a.base, np.ndarray):  # a view: its base owns the memory
        a = a.base
    if a.nbytes:
        blocks[("mem", "cpu", a.__array_interface__["data"][0] or id(a))] = a.nbytes


def entry_blocks(value: Any, max_objects: int = MAX_OBJECTS) -> dict[Hashable, int]:
    """The memory blocks ``value`` holds: {block key: bytes}, each block once however often it is reached.

    A tensor's block is its storage (a view counts its whole storage, a sparse tensor its index and value tensors),
    an array's its base array's buffer, a ``bytes``/``bytearray``'s its length. Reached through tuples, lists,
    sets, dicts (keys and values), dataclasses and any object's attributes (so an ``nn.Module``'s parameters,
    buffers and submodules); functions, classes and modules are not followed."""
    blocks: dict[Hashable, int] = {}
    seen: set[int] = set()
    stack = [value]
    while stack and len(seen) < max_objects:
        obj = stack.pop()
        if isinstance(obj, _ATOMS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            _tensor_blocks(obj, blocks)
        elif isinstance(obj, np.ndarray):
            _array_blocks(obj, blocks)
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
        elif isinstance(obj, (bytes, bytearray)):
            blocks[("obj", id(obj))] = len(obj)
        elif isinstance(obj, memoryview):
            blocks[("obj", id(obj))] = obj.nbytes
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (tuple, list, set, frozenset)):
            stack.extend(obj)
        else:
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                stack.extend(attrs.values())
            elif dataclasses.is_dataclass(obj):
                stack.extend(getattr(obj, f.name, None) for f in dataclasses.fields(obj))
            for cls in type(obj).__mro__:  # __slots__ attributes
                for slot in getattr(cls, "__slots__", ()):
                    if isinstance(slot, str) and slot not in ("__dict__", "__weakref__"):
                        stack.append(getattr(obj, slot, None))
    return blocks


def entry_nbytes(value: Any) -> int:
    """Bytes ``value`` holds (``entry_blocks`` added up)."""
    return sum(entry_blocks(value).values())


class ByteLRU:
    """A least-recently-used dict whose entries together hold at most ``budget`` bytes (see the module's notes)."""

    def __init__(self, budget: int, name: str = "cache"):
        if budget < 0:
            raise ValueError(f"budget must be >= 0 bytes, got {budget}")
        self.budget = int(budget)
        self.name = name
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, dict[Hashable, int]] = OrderedDict()  # key -> its blocks
        self._values: dict[Hashable, Any] = {}
        self._refs: dict[Hashable, int] = {}  # block -> entries that hold it
        self._sizes: dict[Hashable, int] = {}  # block -> bytes
        self._bytes = 0
        self._computing: dict[Hashable, threading.Lock] = {}

    @property
    def nbytes(self) -> int:
        """Bytes the kept entries hold together (shared blocks once); never more than ``budget``."""
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def get(self, key: Hashable, default: Any = MISSING) -> Any:
        """The value kept for ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._values[key]

    def put(self, key: Hashable, value: T) -> T:
        """Keep ``value`` under ``key`` (replacing any), then drop least recently used entries until the total fits
        the budget. A value larger than the budget by itself is not kept (an older one under ``key`` is dropped).
        Returns ``value``."""
        blocks = entry_blocks(value)  # outside the lock: a model's walk takes milliseconds
        with self._lock:
            self._drop(key)
            if sum(blocks.values()) > self.budget:
                return value
            self._entries[key], self._values[key] = blocks, value
            for block, size in blocks.items():
                if self._refs.get(block, 0) == 0:
                    self._sizes[block] = size
                    self._bytes += size
                self._refs[block] = self._refs.get(block, 0) + 1
            while self._bytes > self.budget:
                self._drop(next(iter(self._entries)))  # the new entry fits alone, so it is never the one dropped
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed by ``compute()`` and kept when missing. Threads that ask for the same
        key meanwhile wait for that computation instead of running their own; an exception is raised to the
        caller and nothing is kept."""
        value = self.get(key)
        if value is not MISSING:
            return value
        with self._lock:
            lock = self._computing.setdefault(key, threading.Lock())
        try:
            with lock:
                value = self.get(key)
                if value is not MISSING:
                    return value
                return self.put(key, compute())
        finally:
            with self._lock:
                if self._computing.get(key) is lock:
                    del self._computing[key]

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def clear(self, where: Callable[[Hashable], bool] | None = None) -> None:
        """Drop every entry (or those whose key satisfies ``where``)."""
        with self._lock:
            for key in [k for k in self._entries if where is None or where(k)]:
                self._drop(key)

    def _drop(self, key: Hashable) -> None:  # with the lock held
        blocks = self._entries.pop(key, None)
        if blocks is None:
            return
        del self._values[key]
        for block in blocks:
            self._refs[block] -= 1
            if self._refs[block] == 0:
                del self._refs[block]
                self._bytes -= self._sizes.pop(block)


def _identity(func: Callable) -> tuple:
    """What tells ``func`` from another cached function in a shared pool, across reruns of a page script (which
    define it again): its file, name and byte code (an edited function starts afresh)."""
    code = func.__code__
    digest = hashlib.sha1(code.co_code + repr(code.co_names).encode()).hexdigest()[:16]
    return (code.co_filename, func.__qualname__, digest)


def cached(pool: ByteLRU, *, show_spinner: bool | str = False) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``st.cache_resource`` over a byte-bounded pool: one shared value per argument set, the arguments whose
    names start with ``_`` left out of the key (they must be hashable otherwise); ``show_spinner`` (True or a
    text) shows a spinner while a missing value is computed. The wrapper's ``clear()`` drops its entries."""

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(func)
        ident = _identity(func)
        text = show_spinner if isinstance(show_spinner, str) else f"Running {func.__name__}(…)."

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            key = (ident, tuple((n, v) for n, v in bound.arguments.items() if not n.startswith("_")))
            value = pool.get(key)
            if value is not MISSING:
                return value
            if not show_spinner:
                return pool.get_or_compute(key, lambda: func(*args, **kwargs))
            with st.spinner(text):
                return pool.get_or_compute(key, lambda: func(*args, **kwargs))

        # attributes set on the wrapper function, as st.cache_resource's have: Callable cannot declare them, so mypy's
        # attr-defined is silenced on these two lines only
        wrapper.clear = lambda: pool.clear(lambda k: isinstance(k, tuple) and k[0] == ident)  # type: ignore[attr-defined]
        wrapper.pool = pool  # type: ignore[attr-defined]
        return wrapper

    return decorate
