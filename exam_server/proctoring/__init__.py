"""Proctoring and integrity (docs/proctoring.md): incidents from candidates' signals, presence
without SQL per heartbeat, one seat one device, proctor actions, outage credit.

Modules: :mod:`.models` (tables), :mod:`.policy` (per-session thresholds), :mod:`.rules` (pure
rules), :mod:`.presence` (Redis or memory), :mod:`.services` (everything that writes, a package by seam), and
``console`` (the ``/proctor`` Socket.IO namespace).
"""
