"""Demo data for a local run: one client per party and one provider per pathway."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from pydantic import SecretStr
from sqlmodel import Session

from diversion_cli.context import Service, audited
from diversion_common.credentials import Role
from diversion_common import secrets_at_rest
from diversion_common.database import make_engine
from diversion_common.private_files import write_private_text
from provider_gateway.config import SECRETS_KEYS as GATEWAY_KEYS
from provider_gateway.config import Settings as GatewaySettings
from diversion_common.contracts import Pathway
from provider_gateway.providers.schemas import DeliveryMode, ProviderCreate
from provider_gateway.providers.service import create_provider
from provider_gateway.reference.service import in_use_districts
from referral_api.config import SECRETS_KEYS as REFERRAL_KEYS
from referral_api.config import Settings as ReferralSettings

def demo_providers(districts: list[str]) -> list[ProviderCreate]:
    """One provider per pathway, each serving every district (the gateway's copy of them)."""
    return [_young_people(districts), _adults(districts)]


def _young_people(districts: list[str]) -> ProviderCreate:
    return ProviderCreate(
        name="Demo Young People's Drug Service",
        pathways=[Pathway.youth_community_resolution],
        districts=districts,
        out_of_hours=False,
        delivery_mode=DeliveryMode.pull,
        contact_email="referrals@young-people.provider.example",
    )


def _adults(districts: list[str]) -> ProviderCreate:
    return ProviderCreate(
        name="Demo Adult Drug Service",
        pathways=[Pathway.adult_deferred_summons],
        districts=districts,
        out_of_hours=True,
        delivery_mode=DeliveryMode.pull,
        contact_email="referrals@adults.provider.example",
    )


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def seed(issue_credential: Callable[..., dict[str, str]], env_file: Path) -> None:
    def issue(*args: object, **kwargs: object) -> dict[str, str]:
        return issue_credential(*args, command="demo-seed", **kwargs)

    # Signing secrets are encrypted at rest: the demo's keys are the environment's, or new ones,
    # used for the seeding and written to the services' environment below.
    keys = {
        REFERRAL_KEYS: _plain(ReferralSettings().secrets_keys) or secrets_at_rest.new_key(),
        GATEWAY_KEYS: _plain(GatewaySettings().secrets_keys) or secrets_at_rest.new_key(),
    }
    for variable, value in keys.items():
        secrets_at_rest.use_keys(variable, value)

    gateway_url = GatewaySettings().database_url
    engine = make_engine(gateway_url)
    providers, signing_secrets = [], {}
    with Session(engine) as session:
        for request in demo_providers(sorted(in_use_districts(session))):
            audited(session, Service.provider_gateway, "demo-seed", ids={"provider": request.name})  # commits with it
            provider, secret = create_provider(session, request)
            providers.append(provider)
            signing_secrets[provider.pathways[0].value] = secret
    engine.dispose()

    credentials = {
        "police_thames_valley": issue(Role.police, "Thames Valley Police demo system", force="thames-valley"),
        "police_hampshire": issue(Role.police, "Hampshire Constabulary demo system", force="hampshire"),
        "yju": issue(Role.yju, "Demo Youth Justice Unit (Thames Valley)", force="thames-valley"),
        "court": issue(Role.court, "Demo court liaison (Reading Magistrates' Court)", court="reading-magistrates"),
        "admin": issue(Role.admin, "Demo scheme administrator"),
    }
    for provider in providers:
        pathway = provider.pathways[0].value
        credentials[f"provider_{pathway}"] = {
            **issue(Role.provider, provider.name, provider_id=provider.id),
            "signing_secret": signing_secrets[pathway],
        }
    to_gateway = issue(Role.service, "referral_api outbox relay", service=Service.provider_gateway)
    to_referral_api = issue(Role.service, "provider_gateway outbox relay", service=Service.referral_api)

    # Keys and credentials: readable by their owner only, from the first byte.
    write_private_text(
        env_file,
        "\n".join(
            [
                f"REFERRAL_API_DATABASE_URL={ReferralSettings().database_url}",
                f"PROVIDER_GATEWAY_DATABASE_URL={gateway_url}",
                f"REFERRAL_API_GATEWAY_API_KEY={to_gateway['api_key']}",
                f"PROVIDER_GATEWAY_REFERRAL_API_KEY={to_referral_api['api_key']}",
                # A local run: webhooks may go to this machine (a provider or police system run beside it).
                "PROVIDER_GATEWAY_ALLOW_LOOPBACK_WEBHOOKS=true",
                "REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS=true",
                *(f"{variable}={value}" for variable, value in keys.items()),
            ]
        )
        + "\n",
    )
    credentials_file = env_file.parent / "demo-credentials.json"
    write_private_text(credentials_file, json.dumps(credentials, indent=2))

    # The keys stay in the file, readable by its owner only: a terminal's scroll-back, a CI log
    # or a screen share is no place for them (the README's walk-through reads them from the file).
    typer.echo("Demo providers:")
    for provider in providers:
        typer.echo(f"  {provider.name}: {', '.join(p.value for p in provider.pathways)}, {len(provider.districts)} districts")
    typer.echo(f"Demo credentials ({', '.join(credentials)}): keys and signing secrets in {credentials_file}")
    typer.echo(f"The services' environment: {env_file}")
