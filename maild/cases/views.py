"""How cases look to users: the JSON objects of CONTRACT.md and the text tables.

Read-only; times are UTC ISO 8601 with Z. The JSON objects carry the stored
text exactly (the CLI escapes it when printing); the text views show every
field from mail or the database through `safetext`, so no control character
reaches the terminal raw (SPEC §8).
"""

from __future__ import annotations

from typing import Any

from maild.clock import iso_utc
from maild.safetext import visible, visible_text
from maild.store.models import Attachment, Case, Comment, InboundMessage, format_case_number
from maild.vocab import Role


def _attachment(a: Attachment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "filename": a.filename,
        "size": a.size,
        "content_type": a.content_type,
    }
    if a.dropped_reason:
        out["dropped"] = a.dropped_reason
    return out


def _as_stored(row: object, *columns: str) -> dict[str, Any]:
    """The columns a JSON object shows under their own name and as stored, in the contract's order."""
    return {name: getattr(row, name) for name in columns}


def comment_json(c: Comment) -> dict[str, Any]:
    return {
        "author": c.author_email,
        **_as_stored(c, "author_name", "role", "body"),
        "created_at": iso_utc(c.created_at),
        "source": c.source,
        "internal": bool(c.internal),
        "attachments": [_attachment(a) for a in c.attachments],
    }


def case_summary(case: Case) -> dict[str, Any]:
    return {
        **_as_stored(case, "number", "subject", "severity", "status"),
        "account": case.account.name,
        "primary_contact": case.primary_contact.email,
        "created_at": iso_utc(case.created_at),
        "first_response_due_at": iso_utc(case.first_response_due_at),
        "first_responded_at": iso_utc(case.first_responded_at),
        "team": case.team,
        "owner": case.owner_email,
    }


def case_json(case: Case, opening_attachments: list[Attachment]) -> dict[str, Any]:
    data = case_summary(case)
    data.update(
        topic=case.topic,
        # SPEC §11: null while no contact's follow-up awaits an answer / the case waits on nobody.
        next_response_due_at=iso_utc(case.next_response_due_at),
        waiting_since=iso_utc(case.waiting_since),
        collaborators=[p.email for p in case.participants if p.role == Role.COLLABORATOR],
        collaborators_not_added=list(case.collaborators_not_added or []),
        description=case.description,
        fields=dict(case.fields or {}),
        updated_at=iso_utc(case.updated_at),
        closed_at=iso_utc(case.closed_at),
        severity_note=case.severity_note,
        previous_case=format_case_number(case.previous_case_id) if case.previous_case_id else None,
        escalations=[
            {
                "level": e.level,
                "reason": e.reason,
                "at": iso_utc(e.created_at),
                "requested_by": e.requested_by,
                # Which deadline it was for: "first_response" or "next_response:<due stamp>" (SPEC §11).
                "deadline": e.deadline,
            }
            for e in case.escalations
        ],
        attachments=[_attachment(a) for a in opening_attachments],
        comments=[comment_json(c) for c in case.comments],
    )
    return data


def case_table(cases: list[Case]) -> str:
    """One line per case; TEAM and OWNER as wide as their longest value, so the columns stay aligned."""
    if not cases:
        return "no cases"
    teams = [visible(c.team) if c.team else "-" for c in cases]
    owners = [visible(c.owner_email) if c.owner_email else "-" for c in cases]
    tw = max(4, *(len(t) for t in teams))
    ow = max(5, *(len(o) for o in owners))
    head = f"{'NUMBER':<9} {'SEV':<3} {'STATUS':<20} {'TEAM':<{tw}} {'OWNER':<{ow}}"
    lines = [f"{head} {'PRIMARY CONTACT':<32} SUBJECT"]
    for c, team, owner in zip(cases, teams, owners, strict=True):
        lines.append(
            f"{c.number:<9} {c.severity:<3} {visible(c.status):<20} {team:<{tw}} {owner:<{ow}} "
            f"{visible(c.primary_contact.email):<32} {visible(c.subject)}"
        )
    return "\n".join(lines)


def _deadline_note(escalation: dict[str, Any]) -> str:
    """A next-response escalation names the deadline it was for, so two of them can be told apart."""
    deadline = escalation.get("deadline") or ""
    return f" for {visible(deadline)}" if deadline.startswith("next_response:") else ""


def case_text(data: dict[str, Any]) -> str:
    """`case show`: one line per field, then the description and the comments as written."""

    def v(value: Any) -> str:
        return visible(str(value))

    lines = [
        f"Case {v(data['number'])}: {v(data['subject'])}",
        f"  status {v(data['status'])}, severity {data['severity']}, account {v(data['account'])}",
        f"  primary contact {v(data['primary_contact'])}; "
        f"collaborators: {', '.join(v(c) for c in data['collaborators']) or '-'}",
        f"  opened {data['created_at']}, first response due {data['first_response_due_at']}, "
        f"responded {data['first_responded_at'] or '-'}",
        f"  team {v(data.get('team') or '-')}; owner {v(data.get('owner') or 'none (unassigned)')}; "
        f"topic {v(data.get('topic') or '-')}",
    ]
    # SPEC §11's clocks, only while they run: an absent line means no such clock.
    if data.get("next_response_due_at"):
        lines.append(f"  Next response due {data['next_response_due_at']}")
    if data.get("waiting_since"):
        lines.append(f"  Waiting since {data['waiting_since']} (on the customer)")
    for key, value in data["fields"].items():
        lines.append(f"  {v(key)}: {v(value)}")
    for e in data["escalations"]:
        lines.append(f"  escalated: level {e['level']} ({v(e['reason'])}) at {e['at']}{_deadline_note(e)}")
    lines.append("")
    lines.append(visible_text(data["description"]))
    for c in data["comments"]:
        lines.append("")
        # A note must never be mistaken for something the customer saw (SPEC §10).
        kind = f"{v(c['role'])}, INTERNAL NOTE" if c.get("internal") else v(c["role"])
        lines.append(f"--- {v(c['author'])} ({kind}) at {c['created_at']}")
        lines.append(visible_text(c["body"]))
        for a in c["attachments"]:
            lines.append(f"    [attachment {a['id']}] {v(a['filename'])} ({a['size']} bytes)")
    return "\n".join(lines)


def inbound_json(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "mailbox": row.mailbox,
        "key": row.source_key,
        "message_id": row.message_id,
        "from": row.from_addr,
        "subject": row.subject,
        "outcome": row.outcome,
        "reason": row.reason,
        "case": format_case_number(row.case_id) if row.case_id else None,
        "size": row.size,
        "received_at": iso_utc(row.received_at),
        "raw_kept": row.raw is not None,
    }


def inbound_table(rows: list[InboundMessage]) -> str:
    if not rows:
        return "no inbound messages"
    lines = [f"{'ID':<7} {'RECEIVED':<20} {'OUTCOME':<14} {'CASE':<9} {'FROM':<32} REASON"]
    for r in rows:
        case = format_case_number(r.case_id) if r.case_id else "-"
        lines.append(
            f"{r.id:<7} {iso_utc(r.received_at)!s:<20} {visible(r.outcome):<14} {case:<9} "
            f"{visible(r.from_addr):<32} {visible(r.reason)}"
        )
    return "\n".join(lines)
