"""HTTP endpoints of the candidate side (protocol version 1, see docs/sessions.md).

Candidates have no staff account: they sign in per exam with admission ticket number, ID number
and the room's access code, and get a candidate token for the live delivery.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..extensions import db, limiter
from ..proctoring import services as proctoring
from ..sessions import checkin
from ..sessions.clock import server_now
from ..sessions.schemas import SignInIn
from ..validation import parse_json

bp = Blueprint("candidate_api", __name__, url_prefix="/api/candidate")

# A whole exam room often reaches the server through one NAT address, so the per-address
# allowance must cover a room signing in at once; the credentials themselves (18-digit ID
# number plus a 6-character room code) make guessing hopeless at this rate.
DEFAULT_SIGN_IN_RATE = 120


def _sign_in_rate() -> str:
    per_minute = current_app.config.get("CANDIDATE_SIGN_IN_RATE_PER_MINUTE", DEFAULT_SIGN_IN_RATE)
    return f"{per_minute}/minute"


@bp.post("/sign-in")
@limiter.limit(_sign_in_rate)
def sign_in():
    body = parse_json(SignInIn)
    now = server_now()
    outcome = checkin.sign_in(
        db.session,
        ticket_number=body.ticket_number,
        id_number=body.id_number,
        access_code=body.access_code,
        now=now,
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string,
        device=body.device,
    )
    if outcome.error is not None:
        # A refused attempt is evidence too: its record is committed although the reply is an
        # error (the request's commit point would roll it back).
        checkin.record_sign_in(db.session, outcome)
        db.session.commit()
        # A second device's high incident reaches the consoles now (pushed after the commit).
        proctoring.dispatch(db.session)
        raise outcome.error
    token = checkin.issue_candidate_token(outcome)
    reply = jsonify(checkin.sign_in_reply(outcome, token, now))
    # The audit event last and the commit at once: the chain is held only that long.
    checkin.record_sign_in(db.session, outcome)
    db.session.commit()
    proctoring.dispatch(db.session)  # a move request's incident, if this is another device
    return reply
