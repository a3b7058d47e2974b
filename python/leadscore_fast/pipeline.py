"""Overlapping the stages of a bulk job: ``prefetch`` runs an iterator on its own thread, a
bounded number of items ahead of its consumer.

Bulk rescoring chains three stages: decoding the input (the source's reader), scoring (the
kernels), encoding the output (the writer). pyarrow's readers and writers and the kernels all
release the GIL, so with each stage on its own thread they run at the same time, and the
bounded queues between them keep memory at a few batches whatever the input's size.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], depth: int = 2, name: str = "leadscore-stage") -> Iterator[T]:
    """Yield ``items``, produced on a background thread at most ``depth`` ahead. An exception
    raised by the producer is raised here; closing this generator early stops the producer
    after the item it is working on."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as e:  # handed to the consumer, raised there
            put((_END, e))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item, error = q.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join()
