"""Console entry point of ``exam-server``: gevent's monkey patching comes first, before any
module that does I/O is imported, so sockets, database drivers and Redis cooperate."""

from __future__ import annotations


def run() -> None:
    from gevent import monkey

    monkey.patch_all()

    from .cli import main

    main()
