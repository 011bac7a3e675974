"""Contact points: where a notification goes. A webhook gets the alert as JSON, a
Slack-compatible webhook a ``{"text": ...}`` message, e-mail goes over SMTP (the standard
library's ``smtplib``; a password is read from the environment variable the contact names,
never from the rules), and the log contact writes to Mercator's log.

``send`` never raises: it returns None when the message was accepted and the reason
otherwise, and the caller records either in ``alert_events``.
"""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage

from mercator._http import post_json
from mercator.monitor._rules import Contact

log = logging.getLogger("mercator.monitor")


def summary(note: dict) -> str:
    """One line for people: status, severity, rule, labels and the reason."""
    labels = ", ".join(f"{k}={v}" for k, v in note["labels"].items() if k not in ("rule", "severity"))
    change = note.get("change")
    return (f"[{note['status'].upper()}] {note['severity']}: {note['rule']}" + (f" ({labels})" if labels else "")
            + f" at {note['at']} UTC: {note['reason']}"
            + (f". Change {change['change_id']} ({change['kind']} to {change['after']} x the current): "
               f"{change['status']}" if change else ""))


def send(contact: Contact, note: dict) -> str | None:
    """Deliver ``note`` (the alert as a JSON-safe dict) to ``contact``; None when accepted."""
    text = summary(note)
    if contact.type == "log":
        log.warning("%s", text)
        return None
    if contact.type == "webhook":
        return post_json(contact.url, {**note, "summary": text})
    if contact.type == "slack":
        return post_json(contact.url, {"text": text})
    return _email(contact, note, text)


def _email(contact: Contact, note: dict, text: str) -> str | None:
    msg = EmailMessage()
    msg["Subject"] = text[:200]
    msg["From"] = contact.sender
    msg["To"] = ", ".join(contact.to)
    lines = [text, "", f"Alert: {note['alert_id']}", f"Value: {note['value']}", f"Started: {note['active_since']}",
             f"Firing since: {note['fired_at']}", "", "Acknowledge: mercator monitor ack " + note["alert_id"]]
    msg.set_content("\n".join(lines))
    host, _, port = contact.smtp.partition(":")
    try:
        with smtplib.SMTP(host, int(port or 25), timeout=10) as smtp:
            if contact.starttls:
                smtp.starttls()
            if contact.username:
                password = os.environ.get(contact.password_env or "")
                if password is None:
                    return f"email via {contact.smtp}: the environment variable {contact.password_env} is not set"
                smtp.login(contact.username, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"email via {contact.smtp} failed ({type(exc).__name__}: {exc})"[:300]
    return None
