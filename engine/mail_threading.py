"""Which case a mail belongs to: our signed Message-IDs, the case reference in the subject, and who wrote it.

Outgoing mail carries a Message-ID of our own that names the case and is signed with the secret key
(``<cc.7K4M2QX9.<nonce>.<signature>@domain>``), so a reply's ``In-Reply-To``/``References`` lead
back to the case and nobody can make up one for a case they never got mail about. Mail clients and
providers that rewrite Message-IDs still keep the subject, so the case reference in it
(``[CC-7K4M-2QX9]``) threads a reply too — but only when the sender is that case's customer (the
address on file or the one they wrote from): a stranger quoting a reference gets a new case,
never access to the old one. Reply prefixes (Re, AW, SV, VS, Odp, Ynt, 回复 …) do not matter; they
are only taken off the subject a new case is filed under.

Without ``CARECENTER_SECRET_KEY`` nothing is signed, and Message-IDs thread nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import case_reference
from engine.models import InboundMail, ProcessInstance
from process_library.store import Customer

UNVERIFIED_PREFIX = "email:"  # the customer id of a sender the store does not know: email:<address>
_SIGNED = re.compile(r"^cc\.([0-9A-Z]{8})\.([0-9a-f]{16})\.([0-9a-f]{20})@", re.IGNORECASE)
_SUBJECT_REFERENCE = re.compile(r"\bCC[-\s]?[0-9A-Z]{4}[-\s]?[0-9A-Z]{4}\b", re.IGNORECASE)
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|odp|ynt|antw|antwort|svar|vá|atb|ref|rif|res|r|wg|fw|fwd|tr|rv|enc|pd|"
    r"πρθ|ΑΠ|ΣΧΕΤ|отв|ответ|回复|回覆|答复|轉寄|转发|返信|전달|답장)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
MAX_THREAD_IDS = 20  # the In-Reply-To and References ids looked at (the newest)
MAX_REFERENCES_SENT = 10


@dataclass(frozen=True)
class Thread:
    reference: str | None  # the case the mail continues; None: a new inquiry
    by: str  # message_id, own_thread, subject, stranger (a reference from someone else: ignored), none


def _signature(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), f"carecenter.mail.{body}".encode(), hashlib.sha256).hexdigest()[:20]


def signed_message_id(reference: str, idempotency_key: str, mail_from: str, secret: str) -> str | None:
    """Our Message-ID for one outgoing mail of a case (the same for every try of one call); None without a secret."""
    if not secret or not reference:
        return None
    compact = case_reference.parse(reference).replace("-", "")[len(case_reference.PREFIX) :]
    nonce = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    domain = mail_from.rpartition("@")[2] or "carecenter.invalid"
    return f"<cc.{compact}.{nonce}.{_signature(secret, f'{compact}.{nonce}')}@{domain}>"


def case_of_message_id(message_id: str, secret: str) -> str | None:
    """The case reference a Message-ID of ours names, when its signature holds; else None."""
    found = _SIGNED.match(message_id.strip().strip("<>")) if secret and message_id else None
    if found is None:
        return None
    compact, nonce, signature = found.group(1).upper(), found.group(2).lower(), found.group(3).lower()
    if not hmac.compare_digest(signature, _signature(secret, f"{compact}.{nonce}")):
        return None
    try:
        return case_reference.parse(compact)
    except case_reference.InvalidReference:
        return None


def subject_references(subject: str) -> list[str]:
    """The valid case references written in a subject, in order (check character verified)."""
    found = []
    for match in _SUBJECT_REFERENCE.finditer(subject or ""):
        try:
            reference = case_reference.parse(match.group(0))
        except case_reference.InvalidReference:
            continue
        if reference not in found:
            found.append(reference)
    return found


def without_reply_prefixes(subject: str) -> str:
    """The subject without leading reply and forward prefixes in any language (``AW: Re: Fwd:``)."""
    return _PREFIX.sub("", subject or "").strip()


def with_reference(subject: str, reference: str) -> str:
    """The subject with ``[CC-XXXX-XXXX]`` in it (added at the end unless the reference is there already)."""
    return subject if reference and reference in subject_references(subject) else f"{subject} [{reference}]".strip()


def sender_is_customer(session: Session, instance: ProcessInstance, address: str) -> bool:
    """Whether ``address`` is the case's customer: the address on file, or the one the case came from."""
    address = address.lower()
    if not address:
        return False
    if (instance.contact_email or "").lower() == address or instance.customer_id == UNVERIFIED_PREFIX + address:
        return True
    if instance.customer_id:
        on_file = session.scalar(select(Customer.email).where(Customer.id == instance.customer_id))
        return bool(on_file) and on_file.strip().lower() == address
    return False


def _instance(session: Session, reference: str) -> ProcessInstance | None:
    return session.scalar(select(ProcessInstance).where(ProcessInstance.reference == reference))


def thread(
    session: Session, *, in_reply_to: list[str], references: list[str], subject: str, sender: str, secret: str
) -> Thread:
    """The case a mail continues, and how that was found."""
    ids = list(dict.fromkeys(in_reply_to + list(reversed(references))))[:MAX_THREAD_IDS]
    for message_id in ids:
        reference = case_of_message_id(message_id, secret)
        if reference is not None and _instance(session, reference) is not None:
            return Thread(reference, "message_id")
    if ids and sender:  # a follow-up to the customer's own earlier mail of a case
        earlier = session.execute(
            select(ProcessInstance.reference)
            .join(InboundMail, InboundMail.instance_id == ProcessInstance.id)
            .where(InboundMail.message_id.in_([i[:500] for i in ids]), InboundMail.sender == sender)
            .order_by(InboundMail.id.desc())
            .limit(1)
        ).scalar()
        if earlier is not None:
            return Thread(earlier, "own_thread")
    stranger = False
    for reference in subject_references(subject):
        instance = _instance(session, reference)
        if instance is None:
            continue
        if sender_is_customer(session, instance, sender):
            return Thread(reference, "subject")
        stranger = True
    return Thread(None, "stranger" if stranger else "none")


def known_customer(session: Session, address: str, name: str) -> dict:
    """The intake's customer for a sender: the store's customer with that address, else an unverified contact."""
    found = session.scalar(
        select(Customer).where(func.lower(Customer.email) == address.lower()).order_by(Customer.id).limit(1)
    )
    if found is not None:
        return {"id": found.id, "name": found.name, "email": found.email}
    return unverified_contact(address, name)


def unverified_contact(address: str, name: str) -> dict:
    """The intake's customer for a sender nobody vouches for: ``email:<address>``, never a customer of the store."""
    return {"id": UNVERIFIED_PREFIX + address, "name": name or address, "email": address}


def answer_headers(session: Session, instance_id: int) -> dict[str, str]:
    """``In-Reply-To`` and ``References`` for a mail to the customer: their last mail of the case, if any."""
    last = session.execute(
        select(InboundMail.message_id, InboundMail.reference_ids)
        .where(
            InboundMail.instance_id == instance_id,
            InboundMail.kind.in_(("inquiry", "reply")),
            InboundMail.message_id.is_not(None),
        )
        .order_by(InboundMail.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return {}
    earlier = [i for i in (last.reference_ids or "").split() if i != last.message_id][-(MAX_REFERENCES_SENT - 1) :]
    chain = [*earlier, last.message_id]
    return {"In-Reply-To": f"<{last.message_id}>", "References": " ".join(f"<{i}>" for i in chain)}
