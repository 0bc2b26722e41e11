"""Who did something: every fact on a case's log and every audit row names one, as text.

- ``client:<uuid>``: an API client, by its credential's id;
- ``scheduler``: the service's own timer (the breach checks it runs);
- ``operator:<name>``: a person at the command line (``--operator``, else the OS user);
- ``unauthenticated``: a call that carried no valid credential (audit rows only: such a call
  changes nothing).

Facts a party reported through the other service (a provider's events, the gateway's routing)
name that party as their source; they are named the same way as their actor.
"""

from __future__ import annotations

import getpass
import uuid

SCHEDULER = "scheduler"
UNAUTHENTICATED = "unauthenticated"
MAX_LENGTH = 120
MAX_OPERATOR_NAME = 80


class NoOperatorName(ValueError):
    pass


def client(client_id: uuid.UUID) -> str:
    return f"client:{client_id}"


def operator(name: str) -> str:
    return f"operator:{name}"


def operator_name(given: str | None) -> str:
    """The operator named with ``--operator``, else the OS user running the command."""
    if given is None:
        try:
            given = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment nor the password database
            raise NoOperatorName("no OS user name to record: give --operator NAME") from None
    name = given.strip()
    if not name or len(name) > MAX_OPERATOR_NAME or not name.isprintable():
        raise NoOperatorName(f"--operator must be 1 to {MAX_OPERATOR_NAME} printable characters")
    return name
