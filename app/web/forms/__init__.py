"""Server-rendered HTML forms for user tasks, driven by the task's JSON Schema and react-jsonschema-form UI schema.

Three steps, all without JavaScript:

* `render_form` turns a schema (plus optional UI schema, current values and error messages) into accessible form
  fields: the caller wraps them in its own `<form>` with the CSRF token and the submit button.
* `parse_submission` turns the posted strings back into JSON-typed data (numbers, booleans, enum values).
* `validation_errors` validates that data exactly as the services do (Draft 2020-12 with format checking) and maps
  every problem to the field it concerns, with a short message for people.

`read_submission` chains the last two, keeping a parse error in preference to the validator's message.
"""

from __future__ import annotations

from app.web.forms.fields import NUMBER_MESSAGE, REQUIRED_MESSAGE
from app.web.forms.parse import parse_submission, read_submission, validation_errors
from app.web.forms.render import html_pattern, number_attrs, render_form, required_now

__all__ = ["NUMBER_MESSAGE", "REQUIRED_MESSAGE", "html_pattern", "number_attrs", "parse_submission", "read_submission",
           "render_form", "required_now", "validation_errors"]
