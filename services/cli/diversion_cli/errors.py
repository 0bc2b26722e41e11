"""The CLI's one error handler: an error an operator can act on is one line on stderr.

Bad arguments, a database that cannot be reached or was never migrated, a key that opens no
secret, a setting that does not parse, an unknown id: ``error: <what>`` and a non-zero exit
(2 for what the operator gave, 1 for what was found). Anything else is a bug and keeps its
traceback. Messages name no secret: a database error is reduced to its first line, which
names the host at most, never the URL's password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer._click import exceptions as click  # the click typer runs on (typer ships its own)

from diversion_cli.context import CommandError

MIGRATE_HINT = "run `diversion-link migrate` first"


def exit_status_of(run: Callable[[], Any]) -> int:
    """Run the app (click's standalone mode off) and turn what it raised into an exit status."""
    try:
        status = run()
        return status if isinstance(status, int) else 0
    except CommandError as error:
        return _say(str(error), error.exit_code)
    except click.NoArgsIsHelpError as error:  # a group given no command: its help, as click would
        typer.echo(error.ctx.get_help() if error.ctx else error.format_message())
        return 2
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "diversion-link"
        return _say(f"{error.format_message()} (see {command} --help)", 2)
    except typer.Abort:
        return _say("interrupted", 130)
    except Exception as error:
        message = expected_error(error)
        if message is None:
            raise
        return _say(*message)


def expected_error(error: BaseException) -> tuple[str, int] | None:
    """The line and status for an error an operator can act on; None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError, StatementError

    from diversion_common.problems import Problem
    from diversion_common.secrets_at_rest import SecretsKeyError
    from diversion_common.settings import InvalidSetting

    if isinstance(error, Problem):  # a service's rule refused it, as it would over HTTP (e.g. a name taken)
        return problem_line(error), 2 if error.status in (400, 409, 422) else 1
    cause = error.orig if isinstance(error, StatementError) and error.orig is not None else error
    if isinstance(cause, SecretsKeyError):  # e.g. a callback registered without REFERRAL_API_SECRETS_KEYS set
        return str(cause), 2
    if isinstance(error, InvalidSetting):  # a setting from the environment that does not parse, by its variable
        return f"invalid setting {error}", 2
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", 2
    if isinstance(error, OSError) and error.strerror:  # e.g. a SQLite database where no folder can be
        return f"cannot use {error.filename or 'a file'}: {error.strerror}", 1
    if isinstance(error, DBAPIError):
        reason = (str(error.orig) if error.orig is not None else str(error)).strip().splitlines()[0]
        if "no such table" in reason or "does not exist" in reason and "relation" in reason:
            return f"the database has no tables yet: {MIGRATE_HINT}", 1
        return f"the database could not be used: {reason}", 1
    return None


def problem_line(problem: object) -> str:
    """A service's problem in one line: its detail, else its title, then each field's complaint."""
    errors = getattr(problem, "errors", None) or []
    fields = "; ".join(f"{e.pointer.lstrip('/').replace('/', '.') or 'request'} {e.detail}" for e in errors)
    said = getattr(problem, "detail", None) or getattr(problem, "title", "refused")
    return f"{said}: {fields}" if fields else said


def _say(message: str, status: int) -> int:
    typer.echo(f"error: {message}", err=True)
    return status
