"""Issuing a client's credential in each service its role calls (``clients create``, the demo)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from diversion_cli.context import Service, audited, database_url
from diversion_common import clients as client_registry
from diversion_common.credentials import Role, hash_secret, parse_key
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.providers.tables import Provider
from referral_api.clients.tables import Client as ReferralClient

# Where a role's credential is checked: the service that role calls.
HOME_SERVICES: dict[Role, tuple[Service, ...]] = {
    Role.police: (Service.referral_api,),
    Role.yju: (Service.referral_api,),
    Role.court: (Service.referral_api,),
    Role.provider: (Service.provider_gateway,),
    Role.admin: (Service.referral_api, Service.provider_gateway),
}


def client_table(service: Service) -> type:
    return ReferralClient if service is Service.referral_api else GatewayClient


def _reference_of(session: Session, service: Service) -> dict[str, set[str]]:
    """The forces and courts a client may belong to: referral_api's, in use."""
    if service is not Service.referral_api:
        return {}
    from referral_api.reference.service import in_use_codes
    from referral_api.reference.tables import Court, Force

    return {"known_forces": in_use_codes(session, Force), "known_courts": in_use_codes(session, Court)}


def issue_credential(
    role: Role, name: str, *, force: str | None = None, provider_id: uuid.UUID | None = None, service: Service | None = None,
    court: str | None = None, command: str = "clients create",
) -> dict[str, str]:
    """Create the client in each service the role calls; the key is the same in each."""
    if role is Role.service and service is None:
        raise client_registry.ClientError("a service client needs --service: the service it calls")
    targets = (service,) if service is not None else HOME_SERVICES[role]
    client_id, key_hash, api_key = uuid.uuid4(), None, None
    for target in targets:
        engine = make_engine(database_url(target))
        try:
            with Session(engine) as session:
                if provider_id is not None and target is Service.provider_gateway and session.get(Provider, provider_id) is None:
                    raise client_registry.ClientError(f"no provider {provider_id} in provider_gateway: register the provider first")
                audited(session, target, command, ids={"client_id": client_id, "role": role.value, "provider_id": provider_id, "force": force, "court": court})
                issued = client_registry.create_client(
                    session, client_table(target), name=name, role=role, force=force, court=court,
                    provider_id=provider_id, client_id=client_id, key_hash=key_hash, **_reference_of(session, target),
                )
        finally:
            engine.dispose()
        if api_key is None:
            api_key = issued.api_key
            parsed = parse_key(api_key)
            assert parsed is not None
            key_hash = hash_secret(parsed[1])
    assert api_key is not None
    return {"client_id": str(client_id), "api_key": api_key, "role": role.value, "name": name,
            "services": ",".join(t.value for t in targets)}
