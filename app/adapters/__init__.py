"""Built-in adapters of the external systems, keeping their records in the project's database."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.adapters.asd import DbAsd
from app.adapters.billing import DbBilling
from app.adapters.crm import DbCrm
from app.adapters.directory import DbDirectory
from app.adapters.outbox import DbOutbox
from app.adapters.worklist import DbWorkList
from handlers.base import Clients


def database_clients(session: Session) -> Clients:
    return Clients(crm=DbCrm(session), worklist=DbWorkList(session), billing=DbBilling(session),
                   asd=DbAsd(session), outbox=DbOutbox(session), directory=DbDirectory(session))
