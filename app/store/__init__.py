"""Persistence: SQLAlchemy models (`models`), the engine and session factory that stamp timestamps from the injected
clock (`db`), the unit of work (`unit_of_work`), the hash-chained audit log (`audit`) and the Alembic schema migrations
(`schema_migrations`). Depends on nothing of the app but `domain` (vocabulary) and `clock`."""
