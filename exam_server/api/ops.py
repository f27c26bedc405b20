"""Operations endpoints for administrators: this server process's live-path counters."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import metrics
from ..auth import roles_required
from ..models import Role

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1/ops")


@bp.get("/metrics")
@roles_required(Role.ADMIN)
def process_metrics():
    """Events handled and SQL statements run per event kind, and the CPU time, of the process
    that answers (behind a load balancer, ask each process on its own address)."""
    return jsonify(metrics.snapshot())
