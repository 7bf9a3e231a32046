"""The `canvas-ladok` command line."""

from __future__ import annotations

import logging
import sys
from functools import partial

import click

from plugin.cli_advice import advice
from plugin.settings import ConfigError, Settings, load_settings
from plugin.status import CLI, CORRECTION, FULL, INCREMENTAL, NEW, WITHDRAWN


def load_or_exit() -> Settings:
    """The settings, or every config problem on stderr and exit status 1."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        sys.exit(1)
    context = click.get_current_context(silent=True)  # None when called outside a command
    if context is not None:
        context.meta[SETTINGS_KEY] = settings  # for the failure advice
    return settings


def open_store(settings: Settings, migrate: bool = True):
    """The store for `settings`, migrated to the newest schema."""
    from plugin.store.db import Store
    from plugin.store.migrate import upgrade

    store = Store(settings.database_url, settings.sqlite_synchronous)
    if migrate:
        upgrade(store)
    return store


SETTINGS_KEY = "canvas_ladok.settings"


class Command(click.Command):
    """A command whose summary in the command list is its whole first paragraph."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return (self.short_help or self.help or "").split("\n\n")[0].replace("\n", " ").strip()


class Group(Command, click.Group):
    """A group of commands that turns expected failures into one line of advice."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            settings = ctx.meta.get(SETTINGS_KEY)
            line = advice(exc, settings) if settings is not None else None
            if line is None:
                raise
            raise click.ClickException(line) from None


@click.group(cls=Group, context_settings={"max_content_width": 100})
@click.version_option(package_name="canvas-ladok", message="canvas-ladok %(version)s")
def main() -> None:
    """canvas-ladok: Canvas course results into Ladok."""
    from plugin import logs

    logs.install()


@main.command("check-config")
def check_config() -> None:
    """Validate the configuration file and environment; exit 1 on any problem."""
    from sqlalchemy.engine import make_url

    settings = load_or_exit()
    say_warnings(settings)
    _check_ladok_certificate(settings)
    warned = f", {len(settings.warnings)} warning(s)" if settings.warnings else ""
    click.echo(f"{settings.config_path}: ok ({len(settings.courses)} course(s)){warned}")
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"  database: {database}\n  exports:  {settings.export_dir}")


def say_warnings(settings: Settings) -> None:
    """What would work but probably not as meant, on stderr."""
    for warning in settings.warnings:
        click.echo(f"config warning: {warning}", err=True)


def _check_ladok_certificate(settings: Settings) -> None:
    """Say until when the Ladok certificate is valid; exit 1 when it cannot be used now."""
    import datetime as dt

    from plugin.ladok.check import describe_certificate

    lines, problem = describe_certificate(settings, dt.datetime.now(dt.UTC))
    for line in lines:
        click.echo(line)
    if problem:
        click.echo(f"config error: {settings.config_path}: ladok.certificate: {problem}",
                   err=True)
        sys.exit(1)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations."""
    settings = load_or_exit()
    open_store(settings).dispose()
    click.echo("database schema is up to date")


def _web(bind: str, settings: Settings, on_stop=()) -> None:
    from plugin.serve import server

    say_warnings(settings)
    open_store(settings).dispose()  # migrations applied before any worker starts
    server.run(partial(server.served_app, settings), bind, on_stop)


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
def web(bind: str) -> None:
    """Run the web server only."""
    _web(bind, load_or_exit())


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="HOST:PORT")
def serve(bind: str) -> None:
    """Run the web server and the scheduler (embedded SQLite by default)."""
    from plugin.jobs import heartbeat
    from plugin.jobs.supervisor import Supervisor
    from plugin.serve.server import note_scheduler_restart

    settings = load_or_exit()
    store = open_store(settings)  # migrated before the scheduler starts on the same database
    store.dispose()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def exited(code: int, what: str) -> None:
        heartbeat.mark_stopped(store)  # /healthz says degraded until the scheduler beats again
        note_scheduler_restart(settings, code, what)

    scheduler = Supervisor([sys.executable, "-m", "plugin", "scheduler"], on_exit=exited,
                           hang_after=heartbeat.DOWN_AFTER.total_seconds())
    heartbeat.mark_starting(store)  # /healthz says starting, not down, until the first beat
    scheduler.start()
    _web(bind, settings, on_stop=(scheduler.stop, store.dispose))


@main.command()
def scheduler() -> None:
    """Run the scheduler process: queued jobs and the nightly export."""
    from plugin.jobs import heartbeat
    from plugin.jobs.scheduler import run_scheduler

    settings = load_or_exit()
    store = open_store(settings)
    heartbeat.mark_starting(store)  # a restarted scheduler is starting, not down
    run_scheduler(settings, store)


def _print_summary(summary) -> None:
    """A table of what an export run did."""
    counts = summary.counts
    title = "dry run (nothing recorded)" if summary.dry_run else f"run {summary.run_id}"
    click.echo(f"Export {title}")
    rows = [("new results", counts.get(NEW, 0)), ("corrections", counts.get(CORRECTION, 0)),
            ("withdrawn (handle in Ladok)", counts.get(WITHDRAWN, 0)),
            ("held back (no identity)", counts.get("held_back", 0)),
            ("course grades waiting for attestation", len(summary.waiting))]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"  {name:<{width}}  {value:>7}")
    if summary.dry_run:
        if summary.pending_events:
            click.echo(f"  events received but not yet applied (counted above as if they "
                       f"were): {summary.pending_events}")
        for line in summary.lines:
            click.echo(f"  {line.status:<10} {line.course_code} {line.component_code} "
                       f"{line.student_id} {line.grade} {line.exam_date}")
    elif summary.files:
        click.echo(f"  files: {', '.join(summary.files)}")
    else:
        click.echo("  nothing new: no files written")
    if summary.ladok:
        _print_ladok(summary.ladok)


def _print_ladok(ladok: dict) -> None:
    """What the run's Ladok stage did ("drafts" mode), and every line left for a person."""
    click.echo(f"  Ladok: {ladok.get('sent', 0)} drafts sent, {ladok.get('recorded', 0)} found "
               f"already in Ladok, {ladok.get('waiting', 0)} not yet in Ladok")
    if ladok.get("error"):
        click.echo(f"  Ladok: {ladok['error']} (the next run sends what waits)")
    for item in ladok.get("refused", []) + ladok.get("by_hand", []):
        click.echo(f"  Ladok: {item['name'] or item['user_id']} {item['component']}: "
                   f"{item['message']}")


@main.command()
@click.option("--course", type=int, default=None, help="Only this Canvas course id.")
@click.option("--dry-run", is_flag=True, help="Compute and show, record nothing.")
@click.option("--rerun", "rerun", type=int, default=None, metavar="RUN_ID",
              help="Write the files of an earlier run again from the ledger.")
def export(course: int | None, dry_run: bool, rerun: int | None) -> None:
    """Run an export now (synchronously) and print a summary table."""
    from plugin.export.publish import FilesNotWritten, materialise
    from plugin.export.run import run_export

    settings = load_or_exit()
    if course is not None and settings.course(course) is None:
        raise click.BadParameter(f"course {course} not configured", param_hint="--course")
    store = open_store(settings)
    if rerun is not None:
        names = materialise(store, settings, rerun, force=True)
        if not names:
            raise click.ClickException(f"run {rerun} does not exist or wrote no files")
        click.echo(f"run {rerun}: wrote {', '.join(names)}")
        return
    with click.progressbar(length=1, label="Exporting", file=sys.stderr) as bar:
        def progress(counts: dict) -> None:
            if "of" in counts:
                bar.length = max(counts["of"], 1)
                bar.update(counts["students"] - bar.pos)
            else:  # the end of the run
                bar.update(bar.length - bar.pos)

        try:
            summary = run_export(store, settings, course_id=course, dry_run=dry_run,
                                 trigger=CLI, progress=progress)
        except FilesNotWritten as exc:
            raise click.ClickException(str(exc)) from None
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    _print_summary(summary)
    if summary.files:
        from plugin.export.publish import run_folder

        click.echo(f"  folder: {run_folder(settings, summary.run_id)}")


@main.command()
@click.argument("course_id", type=int)
@click.option("--incremental", is_flag=True, help="Only grades changed since the last sync.")
def resync(course_id: int, incremental: bool) -> None:
    """Re-sync one course from the Canvas REST API (synchronously, with a progress bar)."""
    from plugin.intake.resync import resync_course

    settings = load_or_exit()
    if settings.course(course_id) is None:
        raise click.BadParameter(f"course {course_id} not configured", param_hint="COURSE_ID")
    store = open_store(settings)
    with click.progressbar(length=1, label=f"Re-syncing course {course_id}",
                           file=sys.stderr) as bar:
        def progress(counts: dict) -> None:
            # The student total is unknown until the last page: the bar stays one ahead.
            bar.length = counts.get("students", 0) + 1
            bar.update(counts.get("students", 0) - bar.pos)

        counts = resync_course(store, settings, course_id,
                               mode=INCREMENTAL if incremental else FULL, progress=progress)
    for key, value in counts.items():
        click.echo(f"  {key:<16} {value}")


@main.command("mail-test")
@click.argument("address")
def mail_test(address: str) -> None:
    """Send a test message to ADDRESS and print what the mail server answered."""
    from plugin.mail.probe import send_test

    settings = load_or_exit()
    try:
        click.echo(send_test(settings, address))
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command("ladok-check")
def ladok_check() -> None:
    """Check the Ladok set-up against Ladok itself (reads only); exit 1 on any problem."""
    from plugin.ladok.check import ladok_check as check

    report = check(load_or_exit())
    for line in report.lines:
        click.echo(line)
    if report.problems:
        click.echo(f"ladok-check: {report.problems} problem(s) to put right", err=True)
        sys.exit(1)
    click.echo("ladok-check: ok")


@main.command()
@click.option("--reset", is_flag=True,
              help="First remove everything stored of the demo course: its events, grades, "
                   "export ledger and run folders.")
def demo(reset: bool) -> None:
    """Fill the demo course (Canvas id 565) with a term in every state the pages show.

    On a database that already holds the course it stops and says so, unless --reset."""
    from plugin.demo.fill import COURSE, fill_demo
    from plugin.demo.reset import held, remove_course

    settings = load_or_exit()
    if settings.course(COURSE) is None:
        raise click.ClickException(f"the demo needs course {COURSE} in the configuration "
                                   "(config/canvas-ladok.toml has it)")
    store = open_store(settings)
    found = held(store, COURSE)
    if found and not reset:
        raise click.ClickException(
            f"the database already holds course {COURSE} ({found.events} events, "
            f"{found.runs} export {'run' if found.runs == 1 else 'runs'}): the demo would add "
            "another term and export it. "
            f"Run `canvas-ladok demo --reset` to remove course {COURSE}'s stored data first, "
            "or set CANVAS_LADOK_DATABASE_URL to a new database.")
    if found:
        click.echo(f"removed course {COURSE}: {remove_course(store, settings, COURSE)} rows")
    run_id = fill_demo(store, settings)
    click.echo(f"demo course {COURSE} filled; export run {run_id} went out before the later "
               "grades. Start `canvas-ladok serve` and open http://127.0.0.1:8000/ "
               "(sign in with one of CANVAS_LADOK_ADMIN_TOKENS).")
