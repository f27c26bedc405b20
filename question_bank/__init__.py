"""The question-bank domain: knowledge points, items and their immutable versions, the review
workflow, bank releases, and the import/export formats.

This package knows nothing of HTTP or sockets. Service functions take a SQLAlchemy ``Session``
and plain values, flush their changes, and leave the commit to the caller (the request or CLI
boundary), so one unit of work commits or rolls back as a whole.
"""
