"""Live delivery: attempts, saves, the server-owned clock, submission and grading.

The rules of the live path (docs/architecture.md):

* The server owns time. ``Attempt.deadline`` = start + duration + extra time + credited pauses,
  stored in the database; the client only displays it.
* An ack means durable: a save is acknowledged only after its transaction commits.
* Saves carry a per-attempt, monotonically increasing ``seq``; for each question the newest seq
  wins, so retries and out-of-order delivery are harmless; every accepted save is appended to
  the answer log.
* Every attempt whose deadline passed is submitted exactly once, by any process, connected or
  not (a conditional UPDATE on the attempt's state makes the second try a no-op).
"""
