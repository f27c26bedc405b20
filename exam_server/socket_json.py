"""The JSON of Socket.IO packets: orjson, with pre-encoded fragments spliced in as they are.

python-socketio encodes every packet it sends with ``json.dumps`` and decodes every packet it
receives with ``json.loads`` of the module given as ``json=`` (exam_server/__init__.py). This
module is that module. orjson encodes several times faster than the standard library, and it
writes an ``orjson.Fragment`` (JSON text encoded earlier) into its output unchanged: the
rendered keyless paper, the largest payload of the live path, is encoded once per process
(``delivery.services.delivered_paper``) and every ``hello`` reply carries those bytes, with no
encoding and no walk of the paper per reply. Kept as one bytes object, a cached paper is also
invisible to the garbage collector.

Differences from the standard library that a payload could meet: non-string keys are written
as strings (as ``json.dumps`` does; ``OPT_NON_STR_KEYS``), NaN and infinities are written as
``null`` (the standard library writes invalid JSON), and incoming ``NaN`` is refused.
"""

from __future__ import annotations

from typing import Any

import orjson

Fragment = orjson.Fragment
_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_OPTIONS)


def dumps(obj: Any, **_ignored: Any) -> str:
    """What python-socketio calls (with ``separators=``: orjson's output is compact)."""
    return orjson.dumps(obj, option=_OPTIONS).decode()


def loads(data: str | bytes, **_ignored: Any) -> Any:
    return orjson.loads(data)
