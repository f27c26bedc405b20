"""Heavy work off the live event loop.

Production runs gevent: every connection is a greenlet on one event loop, so a parse that
holds the CPU for seconds would stall every candidate's saves and heartbeats on that process.
:func:`run_blocking` runs such work in gevent's pool of real OS threads (the greenlet waits
without blocking the loop; the interpreter switches threads every few milliseconds, so the
loop keeps serving). Without gevent (the threaded development server, the CLI, tests) the work
already runs on its own thread and is simply called.

Only pure computation goes there (bytes in, plain objects out): no database session, no Flask
context, no gevent primitives, which are not safe across threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _gevent_hub() -> Any:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return None
    if not monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub()


def cooperate() -> None:
    """Let other greenlets run (between chunks of a long database write); a no-op without
    gevent. A short timer rather than ``sleep(0)``: only a loop iteration that polls lets new
    requests in."""
    if _gevent_hub() is not None:
        import gevent

        gevent.sleep(0.001)


def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, in a real thread when the process runs on gevent."""
    hub = _gevent_hub()
    if hub is None:
        return fn(*args, **kwargs)
    return hub.threadpool.apply(fn, args, kwargs)
