"""Progress bars: tqdm on a terminal or stderr, silent when disabled."""
from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str = "", disable: bool = False, total: int | None = None) -> Iterator[T]:
    if disable:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, unit="it", dynamic_ncols=True)
