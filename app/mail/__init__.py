"""Email templates: the defaults that ship, the variables each may use, and rendering them in Jinja2's sandbox.

This package sits beside the services (they and the adapters use it to compose email); it reaches nothing of the
app but the pure domain, so administrators' templates never see the database or the web.
"""
