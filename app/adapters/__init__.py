"""Built-in adapters of the external systems, keeping their records in the project's database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.adapters.asd import DbAsd
from app.adapters.billing import DbBilling
from app.adapters.crm import DbCrm
from app.adapters.directory import DbDirectory
from app.adapters.mail_compose import MailStyle
from app.adapters.outbox import DbOutbox
from app.adapters.worklist import DbWorkList
from handlers.base import Clients


def database_clients(session: Session, now: datetime, style: MailStyle | None = None) -> Clients:
    """The clients of one service call; every record they write is stamped `now` (the job's time). `style`: what
    every email shares (the signature's contact, the zone of its times)."""
    return Clients(crm=DbCrm(session, now), worklist=DbWorkList(session, now), billing=DbBilling(session, now),
                   asd=DbAsd(session, now), outbox=DbOutbox(session, now, style), directory=DbDirectory(session))
