"""The ``vaediag`` command group: one-line errors (exit code 2), whole command summaries in ``--help``.

Every error a user can cause is printed as one line (``Error: ...``) with exit code 2; no traceback.
``vaediag sweep`` (and ``study --seeds``) exits 1 when some run failed (recorded in sweep.json).
Every command that writes into a RUN_DIR (train, evaluate, study, report) holds its lock while it writes
(the library functions take it: :meth:`vaediag.store.rundir.Run.writing`): a second writer is refused with the
holder's PID.
"""

from __future__ import annotations

import sys

import click

from vaediag.errors import VaediagError


class _Group(click.Group):
    """A click group whose command list shows each summary whole (wrapped to the terminal, never cut)."""

    group_class = type  # sub-groups are of this class too

    def format_commands(self, ctx, formatter):
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _OneLineErrors(_Group):
    """A click group that reports usage errors and :class:`VaediagError` as a single line, exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
        except VaediagError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted; completed epochs are checkpointed (use --resume).", err=True)
            sys.exit(130)


def log(msg: str) -> None:
    """A progress or diagnostic line, on stderr (stdout is for the command's result)."""
    click.echo(msg, err=True)


def announce(command: str, run_dir: str) -> None:
    """On a terminal, say at once what is starting (PyTorch and MNIST take a few seconds to load)."""
    if sys.stderr.isatty():
        log(f"vaediag {command}: {run_dir} (loading PyTorch and MNIST ...)")


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaediag")
def cli():
    """vaediag: train VAEs on MNIST and measure what people usually eyeball."""


def main(argv=None):  # console-script entry point
    cli.main(args=argv, prog_name="vaediag")

