"""HTTP adapters of the external systems (CRM, billing, ASD): JSON over HTTP(S) with httpx.

Picked per system at start-up by the composition root when the system's URL is set (RF_CRM_URL, RF_BILLING_URL,
RF_ASD_URL); the other systems stay the built-in database ones. The contract is docs/crm-integration.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from app.adapters.http.asd import HttpAsd
from app.adapters.http.billing import HttpBilling
from app.adapters.http.crm import HttpCrm
from app.adapters.http.transport import Endpoint, HttpTransport
from handlers.base import Clients


@dataclass(frozen=True)
class RemoteSystems:
    """The systems reached over HTTP (None: the built-in one), each with its own connection pool."""

    crm: HttpTransport | None = None
    billing: HttpTransport | None = None
    asd: HttpTransport | None = None

    @classmethod
    def connect(cls, crm: Endpoint | None = None, billing: Endpoint | None = None,
                asd: Endpoint | None = None) -> RemoteSystems:
        """Transports for the endpoints given; nothing is connected until the first call."""
        return cls(crm=HttpTransport(crm) if crm else None, billing=HttpTransport(billing) if billing else None,
                   asd=HttpTransport(asd) if asd else None)

    def clients(self, built_in: Clients, session: Session, now: datetime) -> Clients:
        """`built_in` with the HTTP client in place of each system reached over HTTP."""
        return replace(
            built_in,
            crm=HttpCrm(self.crm, session, now) if self.crm else built_in.crm,
            billing=HttpBilling(self.billing, session, now) if self.billing else built_in.billing,
            asd=HttpAsd(self.asd, session, now) if self.asd else built_in.asd)

    def names(self) -> list[str]:
        return [t.endpoint.system for t in (self.crm, self.billing, self.asd) if t is not None]

    def close(self) -> None:
        for transport in (self.crm, self.billing, self.asd):
            if transport is not None:
                transport.close()


__all__ = ["Endpoint", "HttpAsd", "HttpBilling", "HttpCrm", "HttpTransport", "RemoteSystems"]
