"""The email templates that ship with the product: a subject, a plain-text part and an HTML part for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


_CASE_SUBJECT = "{% if crm_case_number %}Case {{ crm_case_number }}: {% endif %}{{ subject }}"
_GREETING_TEXT = "{% if customer_name %}Dear {{ customer_name }},{% else %}Hello,{% endif %}"
_GREETING_HTML = "<p>{% if customer_name %}Dear {{ customer_name }},{% else %}Hello,{% endif %}</p>"
_SIGNATURE_TEXT = "Kind regards,\n{{ provider_group.name }}\n{{ provider_group.contact }}\n"
_SIGNATURE_HTML = ("<p>Kind regards,<br>\n<strong>{{ provider_group.name }}</strong><br>\n"
                   "{{ provider_group.contact }}</p>\n")
_STAFF_SIGNATURE_TEXT = "-- \nRequest Fulfillment ({{ provider_group.name }})\n"
_STAFF_SIGNATURE_HTML = "<p style=\"color:#555\">Request Fulfillment ({{ provider_group.name }})</p>\n"
_MESSAGE_HTML = "<div style=\"white-space:pre-wrap;border-left:3px solid #ccc;padding-left:1em\">{{ message }}</div>"
_CASE_LINE = "case {{ case_number }}{% if crm_case_number %} (our request {{ request_number }}){% endif %}"


def _html(body: str, signature: str = _SIGNATURE_HTML, greeting: str = _GREETING_HTML) -> str:
    return ("<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif;line-height:1.4\">\n"
            f"{greeting}\n{body}\n{signature}</body></html>\n")


DEFAULTS: dict[str, Template] = {
    "customer_question": Template(
        subject=_CASE_SUBJECT,
        text=(f"{_GREETING_TEXT}\n\nWe are working on your request \"{{{{ title }}}}\" ({_CASE_LINE}) and need "
              "something from you before we can go on:\n\n{{ message }}\n\nPlease reply to this email. Your request "
              f"waits for your answer.\n\n{_SIGNATURE_TEXT}"),
        html=_html(f"<p>We are working on your request “{{{{ title }}}}” ({_CASE_LINE}) and need something from you "
                   f"before we can go on:</p>\n{_MESSAGE_HTML}\n<p>Please reply to this email. Your request waits for "
                   "your answer.</p>")),
    "customer_fulfilled": Template(
        subject=_CASE_SUBJECT,
        text=(f"{_GREETING_TEXT}\n\nYour request \"{{{{ title }}}}\" ({_CASE_LINE}) has been fulfilled on "
              "{{ sent_at }}.\n\nWhat we did:\n\n{{ message }}\n\nIf anything is not as you expected, reply to this "
              f"email.\n\n{_SIGNATURE_TEXT}"),
        html=_html(f"<p>Your request “{{{{ title }}}}” ({_CASE_LINE}) has been fulfilled on {{{{ sent_at }}}}.</p>\n"
                   f"<p>What we did:</p>\n{_MESSAGE_HTML}\n<p>If anything is not as you expected, reply to this "
                   "email.</p>")),
    "rfc_fulfilled": Template(
        subject=_CASE_SUBJECT,
        text=(f"{_GREETING_TEXT}\n\nYour Request for Change \"{{{{ title }}}}\" ({_CASE_LINE}) is fulfilled.\n\n"
              "{{ message }}\n\nIf anything is not as you expected, reply to this email.\n\n" + _SIGNATURE_TEXT),
        html=_html(f"<p>Your Request for Change “{{{{ title }}}}” ({_CASE_LINE}) is fulfilled.</p>\n{_MESSAGE_HTML}\n"
                   "<p>If anything is not as you expected, reply to this email.</p>")),
    "customer_cancelled": Template(
        subject=_CASE_SUBJECT,
        text=(f"{_GREETING_TEXT}\n\nYour request \"{{{{ title }}}}\" ({_CASE_LINE}) has been cancelled on "
              "{{ sent_at }}.\n\nThe reason we were given:\n\n{{ reason }}\n\nIf you still need it, or have questions, "
              f"reply to this email.\n\n{_SIGNATURE_TEXT}"),
        html=_html(f"<p>Your request “{{{{ title }}}}” ({_CASE_LINE}) has been cancelled on {{{{ sent_at }}}}.</p>\n"
                   "<p>The reason we were given:</p>\n" + _MESSAGE_HTML.replace("message", "reason") + "\n"
                   "<p>If you still need it, or have questions, reply to this email.</p>")),
    "sla_escalation": Template(
        subject="{{ subject }}",
        text="Hello,\n\n{{ message }}\n\n" + _STAFF_SIGNATURE_TEXT,
        html=_html(_MESSAGE_HTML, _STAFF_SIGNATURE_HTML, "<p>Hello,</p>")),
    "task_assigned": Template(
        subject="Assigned to you: {{ task_name }} ({{ request_number }})",
        text=("Hello {{ recipient_name }},\n\nThe task \"{{ task_name }}\" of request {{ request_number }} "
              "(\"{{ title }}\") is now assigned to you{% if assigned_by %} by {{ assigned_by }}{% endif %}.\n"
              "{% if due_at %}It is due {{ due_at }}.\n{% endif %}\nOpen it in your Request Fulfillment inbox.\n\n"
              + _STAFF_SIGNATURE_TEXT),
        html=_html("<p>The task <strong>{{ task_name }}</strong> of request {{ request_number }} (“{{ title }}”) is "
                   "now assigned to you{% if assigned_by %} by {{ assigned_by }}{% endif %}.</p>\n"
                   "{% if due_at %}<p>It is due {{ due_at }}.</p>{% endif %}\n"
                   "<p>Open it in your Request Fulfillment inbox.</p>",
                   _STAFF_SIGNATURE_HTML, "<p>Hello {{ recipient_name }},</p>")),
    "customer_replied": Template(
        subject="{{ customer_name or 'The customer' }} replied: {{ request_number }}",
        text=("Hello {{ recipient_name }},\n\n{{ customer_name or 'The customer' }} answered the question on request "
              "{{ request_number }} (\"{{ title }}\", {{ agency }}):\n\n{{ message }}\n\n"
              "The task \"{{ task_name }}\" is back in your Request Fulfillment inbox"
              "{% if due_at %}, due {{ due_at }}{% endif %}; the SLA clock runs again.\n\n" + _STAFF_SIGNATURE_TEXT),
        html=_html("<p>{{ customer_name or 'The customer' }} answered the question on request {{ request_number }} "
                   "(“{{ title }}”, {{ agency }}):</p>\n" + _MESSAGE_HTML + "\n<p>The task <strong>{{ task_name }}"
                   "</strong> is back in your Request Fulfillment inbox{% if due_at %}, due {{ due_at }}{% endif %}; "
                   "the SLA clock runs again.</p>",
                   _STAFF_SIGNATURE_HTML, "<p>Hello {{ recipient_name }},</p>")),
    "billing_forwarded": Template(
        subject="Billing case to initiate: {{ request_number }}",
        text=("Hello {{ recipient_name }},\n\nRequest {{ request_number }} (\"{{ title }}\", {{ agency }}) is "
              "chargeable: its billing case has been forwarded to you to initiate billing.\n\n"
              "Open the task \"{{ task_name }}\" in your Request Fulfillment inbox.\n\n" + _STAFF_SIGNATURE_TEXT),
        html=_html("<p>Request {{ request_number }} (“{{ title }}”, {{ agency }}) is chargeable: its billing case "
                   "has been forwarded to you to initiate billing.</p>\n<p>Open the task <strong>{{ task_name }}"
                   "</strong> in your Request Fulfillment inbox.</p>",
                   _STAFF_SIGNATURE_HTML, "<p>Hello {{ recipient_name }},</p>")),
}
