"""Paper assembly from blueprints (组卷): every candidate gets a paper of their own, drawn from a
pinned release by a blueprint version, and every paper is as hard as every other.

The core (:mod:`.pool`, :mod:`.plan`, :mod:`.core`, :mod:`.report`, :mod:`.delivery`) works on
plain lists and numpy arrays and knows nothing of the database; :mod:`.service` loads releases
and stores papers. See docs/assembly.md for the rules, the algorithm and the guarantees.

Typical use by the session code::

    from question_bank import assembly
    pset = assembly.assemble_and_store(
        db.session, actor, session_key, release, blueprint_version, seed, candidate_ids
    )
    paper = assembly.paper_from_record(stored_paper)
    doc = assembly.paper_for_delivery(paper, versions_by_id)
"""

from .core import (
    Paper,
    PaperFailed,
    PaperFailure,
    SessionAssembler,
    SessionResult,
    assemble,
    assembly_order,
    naive_paper,
    paper_seed,
)
from .delivery import display_to_original, paper_for_delivery, to_displayed, to_original
from .plan import Cell, KnowledgeTable, Plan, largest_remainder, plan_blueprint, session_problems
from .pool import ItemPool, is_keep_last_text
from .report import session_report
from .service import (
    add_papers,
    assemble_and_store,
    assemble_session,
    check_blueprint,
    find_release,
    get_paper_set,
    load_pool,
    paper_from_record,
    plan_for,
    preview,
    rebuild_papers,
    store_papers,
    stored_paper,
    verify_papers,
)

__all__ = [
    "Cell",
    "ItemPool",
    "KnowledgeTable",
    "Paper",
    "PaperFailed",
    "PaperFailure",
    "Plan",
    "SessionAssembler",
    "SessionResult",
    "add_papers",
    "assemble",
    "assemble_and_store",
    "assemble_session",
    "assembly_order",
    "check_blueprint",
    "display_to_original",
    "find_release",
    "get_paper_set",
    "is_keep_last_text",
    "largest_remainder",
    "load_pool",
    "naive_paper",
    "paper_for_delivery",
    "paper_from_record",
    "paper_seed",
    "plan_blueprint",
    "plan_for",
    "preview",
    "rebuild_papers",
    "session_problems",
    "session_report",
    "store_papers",
    "stored_paper",
    "to_displayed",
    "to_original",
    "verify_papers",
]
