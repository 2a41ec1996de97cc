"""The email templates: the defaults pass their own checks; a template that could reach Python's internals, spin the
worker or fill its memory is refused with the part and the reason named; values are escaped in the HTML part only."""

from __future__ import annotations

import pytest

from app.mail.defaults import DEFAULTS, Template
from app.mail.templates import NAMES, TemplateProblem, check, render, samples


@pytest.mark.parametrize("key", sorted(NAMES))
def test_every_default_template_passes_its_checks_and_renders_its_samples(key):
    check(key, DEFAULTS[key])
    rendered = render(DEFAULTS[key], samples(key))
    assert rendered.subject and rendered.text.strip() and rendered.html.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("subject", "reason"), [
    ("{{ title", "syntax error on line 1"),
    ("{{ customer_nam }}", "unknown variable customer_nam"),
    ("{{ ''.__class__.__mro__ }}", "SecurityError"),
    ("{{ 'x' * 10**9 }}", "a value longer than 100000"),
    ("{{ 2 ** 100000 }}", "an exponent over 64"),
    ("{% for i in range(10**6) %}x{% endfor %}", "a range longer than 1000"),
    ("{% for a in title %}{% for b in title %}x{% endfor %}{% endfor %}", "loop inside another one"),
    ("   ", "must not be empty"),
])
def test_a_template_that_could_do_harm_or_cannot_render_is_refused_naming_the_part(subject, reason):
    with pytest.raises(TemplateProblem) as refused:
        check("customer_fulfilled", Template(subject, "Hello", "<p>Hello</p>"))
    assert list(refused.value.problems) == ["subject"] and reason in refused.value.problems["subject"]


def test_values_are_escaped_in_the_html_part_and_left_as_written_in_the_text_part():
    values = {**samples("customer_question"), "title": "<b>A & B</b>", "message": "<script>x()</script>"}
    rendered = render(DEFAULTS["customer_question"], values)
    assert "<b>A & B</b>" in rendered.text and "<script>x()</script>" in rendered.text
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in rendered.html and "<script>" not in rendered.html
    assert rendered.subject == "Case CS-10023: " + values["subject"]
