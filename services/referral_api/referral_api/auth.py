"""Who may call referral_api: one dependency per kind of caller."""

from typing import Annotated

from fastapi import Depends

from diversion_common.auth import role_dependency
from diversion_common.credentials import Principal, Role
from referral_api.clients.tables import Client
from referral_api.db import get_session

PoliceSystem = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.police))]
YouthJusticeUnit = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.yju))]
Administrator = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.admin))]
# Breach requests: the referring force, the court and the YJU each see their own (breaches/service.py).
BreachParty = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.police, Role.court, Role.yju))]
BreachAddressee = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.court, Role.yju))]
CourtLiaison = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.court))]
# The reference lists (forces, districts, courts): every party that names one in its calls.
ReferenceReader = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.police, Role.yju, Role.court, Role.admin))]
