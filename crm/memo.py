"""One bounded store of values a process keeps between requests (parsed plans, a runner's held
plan, the lead list's row HTML, a deploy's links and page fragments): the `size` last put or
got, by key; the one least recently used goes first.

A plain dict in insertion order, an entry moved to the end when it is read: a read costs a
pop and an insert, no lock. Its threads may share it: two that race at worst both miss and
both build the value."""

from __future__ import annotations

from typing import Generic, TypeVar

K, V = TypeVar("K"), TypeVar("V")


class Newest(Generic[K, V]):
    """The `size` values last put or got by key, in one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        items = self._items
        value = items.pop(key, None)
        if value is not None:
            items[key] = value
        return value

    def put(self, key: K, value: V) -> None:
        items = self._items
        items.pop(key, None)
        items[key] = value
        while len(items) > self.size:
            try:
                del items[next(iter(items))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
