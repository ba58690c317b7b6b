"""How a zingctl command is declared: every command group is a ``Typer`` from here.

Each command of such a group gets, without declaring them, the shared ``--json`` / ``--jsonl``
options and daemon errors as exit codes (1 for a daemon error, 3 when the daemon is unreachable
or silent; 2, bad usage, is Typer's own). It gets its state by asking, as ``click.pass_obj``
would hand it over: a parameter annotated ``Session`` receives the invocation's session (the
root's --socket / --token), one annotated ``Output`` the printer for the format its --json /
--jsonl chose.

So a new group only picks its columns, and no module keeps per-invocation state: it lives on
the context, as an ``Invocation``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import typer

from zingctl.output import Output
from zingctl.session import Session
from zingd.errors import ZingError
from zingd.rpc.client import ConnectionLost, DaemonUnreachable

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document with raw values (for scripts).")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per line (for scripts).")]


@dataclass(frozen=True)
class Invocation:
    """``ctx.obj``: what one run of zingctl knows beyond a command's own parameters.

    The root command sets the session; each command's context gets a copy with its output.
    """

    session: Session
    output: Output = Output()


class Typer(typer.Typer):
    """A command group whose every command takes the shared output options, its state, and exit codes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable:
        register = super().command(*args, **kwargs)

        def decorate(fn: Callable) -> Callable:
            register(_run_with_invocation(fn))
            return fn
        return decorate


def _run_with_invocation(fn: Callable) -> Callable:
    """``fn`` as Typer should see it: --json / --jsonl and the context added, its state parameters taken out."""
    sig = inspect.signature(fn, eval_str=True)
    handed = {name: p.annotation for name, p in sig.parameters.items() if p.annotation in (Session, Output)}

    @functools.wraps(fn)
    def run(ctx: typer.Context, as_json: bool = False, as_jsonl: bool = False, **kwargs: Any) -> Any:
        if as_json and as_jsonl:
            raise typer.BadParameter("choose one of --json and --jsonl")
        ctx.obj = replace(ctx.obj, output=Output("json" if as_json else "jsonl" if as_jsonl else "table"))
        state = {Session: ctx.obj.session, Output: ctx.obj.output}
        try:
            return fn(**kwargs, **{name: state[kind] for name, kind in handed.items()})
        except (DaemonUnreachable, ConnectionLost) as e:
            ctx.obj.output.error(str(e), "unreachable", hint="is zingd running? Start it with `zingd`, or point "
                                 "--socket / ZING_SOCKET at its socket.")
            raise typer.Exit(3) from None
        except TimeoutError:
            ctx.obj.output.error("zingd did not answer in time", "timeout", hint="see the daemon's log; is it "
                                 "overloaded?")
            raise typer.Exit(3) from None
        except ZingError as e:
            hint = "log in with `zingctl login`" if e.kind == "unauthenticated" else None
            ctx.obj.output.error(e.message, e.kind, hint=hint, details=e.details)
            raise typer.Exit(1) from None

    keyword = inspect.Parameter.KEYWORD_ONLY
    added = [inspect.Parameter("ctx", keyword, annotation=typer.Context),
             inspect.Parameter("as_json", keyword, default=False, annotation=JsonOpt),
             inspect.Parameter("as_jsonl", keyword, default=False, annotation=JsonlOpt)]
    kept = [p for name, p in sig.parameters.items() if name not in handed]
    run.__signature__ = sig.replace(parameters=[*kept, *added])
    return run
