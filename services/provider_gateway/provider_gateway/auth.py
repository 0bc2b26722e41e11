"""Who may call provider_gateway: one dependency per kind of caller."""

from typing import Annotated

from fastapi import Depends

from diversion_common.auth import role_dependency
from diversion_common.credentials import Principal, Role
from provider_gateway.clients.tables import Client
from provider_gateway.db import get_session

Administrator = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.admin))]
ProviderSystem = Annotated[Principal, Depends(role_dependency(Client, get_session, Role.provider))]
