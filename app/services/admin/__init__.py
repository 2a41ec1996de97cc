"""Administration use cases: signing in (`auth`), users, roles and provider groups (`users`), the business calendar
and SLA targets (`calendar`), and setting up a database (`setup`: schema migrations, reference and demo data)."""
