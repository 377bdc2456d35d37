"""The `ivr` command: check config, route a number, serve, simulate calls, ops tools."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ivr.config import Config, ConfigError, load_config
from ivr.settings import Settings


def settings() -> Settings:
    """The environment's settings, parsed once per command."""
    return Settings.from_env()


def config_dir() -> Path:
    return settings().config_dir


def parse_instant(value: str | None, option: str = "--at") -> datetime | None:
    """An ISO-8601 instant; a naive one is taken as UTC."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.UsageError(
            f"{option}: {value!r} is not an ISO-8601 date and time (e.g. 2026-02-17T12:00:00+08:00)"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


LIST_LIMIT = 1000
LIMIT_HELP = "At most this many, the newest."
JSON_HELP = "Print JSON (the contract's fields) instead of a table."
AT_HELP = "ISO-8601 instant, e.g. 2026-02-17T12:00:00+08:00 (default: now); without an offset it is UTC."


def warn_if_not_a_number(config: Config, number: str, dialed: str | None) -> None:
    """A malformed caller number routes like a withheld one, as a real call would: say so."""
    from ivr.routing.regions import WITHHELD_CALLER_IDS, caller_id, route_call

    text = number.strip()
    if caller_id(text) is None and text.lower() not in WITHHELD_CALLER_IDS:
        route = route_call(config, text, dialed)
        click.echo(
            f"warning: {number!r} is not a valid phone number; routed by the {route.matched_by} "
            f"rule to {route.region.code}, as a call from it would be",
            err=True,
        )


def load_or_exit() -> Config:
    from ivr.flows import PHRASE_KEYS, PROMPT_KEYS

    try:
        return load_config(config_dir(), PROMPT_KEYS, PHRASE_KEYS)
    except ConfigError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        sys.exit(1)


def open_runtime() -> Any:
    """The runtime on the environment's store and config, as the server would build it."""
    from ivr.runtime import build_runtime

    load_or_exit()
    return build_runtime(settings(), snapshot=False)  # only servers keep the last good config


def is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table for people; --json is for programs."""
    if not rows:
        click.echo("(none)")
        return
    cells = [[str(row.get(c) if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def show(record: dict[str, Any], as_json: bool) -> None:
    """One record: JSON for programs, `key value` lines for people."""
    if as_json:
        emit(record)
        return
    for key, value in record.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        click.echo(f"{key:<9} {shown}")


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class IvrCommands(click.Group):
    """Every command: a store that is down or misnamed is a one-line error, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        from ivr.store import UnsupportedStore

        try:
            return super().invoke(ctx)
        except UnsupportedStore as exc:
            raise click.ClickException(f"DATABASE_URL: {exc}") from None
        except ArgumentError as exc:
            raise click.ClickException(f"DATABASE_URL is not a database URL ({exc})") from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"the store at {store_name()} is unavailable: {reason}") from None


def store_name() -> str:
    """DATABASE_URL without its password, for error messages."""
    from sqlalchemy.engine import make_url

    url = settings().store_url
    try:
        return str(make_url(url).render_as_string(hide_password=True))
    except Exception:
        return "DATABASE_URL"


@click.group(cls=IvrCommands)
def main() -> None:
    """OK Wallet hotline IVR."""


@main.command()
def check() -> None:
    """Validate the config (regions.yaml, hours.yaml, prompts/) and the call flows' graph."""
    from ivr.flows import GRAPH, check_phrases

    if GRAPH.problems:
        for problem in GRAPH.problems:
            click.echo(f"ivr/flows: {problem}", err=True)
        sys.exit(1)
    config = load_or_exit()
    shared = check_phrases(config)
    if shared:
        for problem in shared:
            click.echo(problem, err=True)
        sys.exit(1)
    from ivr.config import twilio_warnings

    environment = settings()
    for warning in twilio_warnings(
        config, bool(environment.twilio_account_sid and environment.twilio_auth_token), environment.sms_from
    ):
        click.echo(f"warning: {warning}", err=True)
    click.echo("OK")
    click.echo(config.summary())
    click.echo(
        f"{len(GRAPH.menus)} menus, {len(GRAPH.steps)} steps; prompts in {', '.join(sorted(config.prompts))}"
    )


@main.command()
@click.argument("number")
@click.option("--to", "dialed", help="The number the caller dialed.")
@click.option("--at", "at", help=AT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON instead of a line.")
def route(number: str, dialed: str | None, at: str | None, as_json: bool) -> None:
    """Which region answers NUMBER, and whether its agents are open."""
    runtime = open_runtime()
    warn_if_not_a_number(runtime.config, number, dialed)
    answer = runtime.route(number, dialed, parse_instant(at))
    data = answer.as_json()
    if as_json:
        emit(data)
        return
    reopens = data["next_open"] or "when ops reopen it (ivr region reopen)"
    state = "open" if data["open"] else f"closed ({data['reason']}), next open {reopens}"
    click.echo(
        f"{data['region']} (by {data['matched_by']}): {state}; "
        f"hotline {data['hotline']}; language {data['language']}"
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--dev",
    is_flag=True,
    help="Local development: a known signing token if TWILIO_AUTH_TOKEN is unset; 127.0.0.1 only.",
)
def serve(host: str, port: int, dev: bool) -> None:
    """Serve the IVR (production: `gunicorn wsgi:app`)."""
    from werkzeug.serving import run_simple

    from ivr import DEV_TOKEN, StartupError, create_app
    from ivr.web.logs import configure

    token = settings().twilio_auth_token
    if not token and not dev:
        raise click.ClickException("TWILIO_AUTH_TOKEN is not set (use --dev for local development)")
    if dev and not token:
        if not is_loopback(host):
            raise click.ClickException("--dev without TWILIO_AUTH_TOKEN binds 127.0.0.1 only")
        click.secho(
            "!! DEV MODE: TWILIO_AUTH_TOKEN unset; webhooks are checked against the public dev "
            f"token {DEV_TOKEN!r}.\n!! Bound to {host} only. Never expose this server.",
            fg="red",
            bold=True,
            err=True,
        )
    try:
        app = create_app({"DEV_MODE": dev})
    except StartupError as error:
        raise click.ClickException(str(error)) from None
    configure()  # the same JSON log lines as production, on stderr
    # werkzeug's own request lines carry whole URLs (a callback number rides on one): the IVR's
    # JSON line per webhook says what a request line would, with numbers masked.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.extensions["ivr"].sms.start(app.extensions["ivr"].now)  # texts to Twilio, off the webhooks
    click.echo(f"Serving the IVR on http://{host}:{port}/voice", err=True)
    run_simple(host, port, app, threaded=True)


@main.group()
def cases() -> None:
    """Lockdowns, disputes, callbacks and voicemails."""


@cases.command("list")
@click.option("--kind", type=click.Choice(["lockdown", "dispute", "callback", "voicemail"]))
@click.option("--limit", default=LIST_LIMIT, show_default=True, type=click.IntRange(1), help=LIMIT_HELP)
@click.option("--since", help="Only those created from this ISO-8601 instant (without an offset: UTC).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def cases_list(kind: str | None, limit: int, since: str | None, as_json: bool) -> None:
    """Cases, oldest first (callback numbers masked in the table, full in --json)."""
    from ivr.store.cases import list_cases, masked

    runtime = open_runtime()
    with runtime.store.begin() as connection:
        rows = list_cases(connection, kind, limit=limit, since=parse_instant(since, "--since"))
    _say_if_cut(len(rows), limit)
    if as_json:
        emit(rows)
        return
    table([masked(r) for r in rows], ["reference", "kind", "account", "region", "status", "created_at"])


def _say_if_cut(count: int, limit: int) -> None:
    if count == limit:
        click.echo(f"note: the newest {limit} shown; use --limit or --since for others", err=True)


@main.group()
def sms() -> None:
    """The SMS outbox."""


@sms.command("list")
@click.option("--limit", default=LIST_LIMIT, show_default=True, type=click.IntRange(1), help=LIMIT_HELP)
@click.option("--since", help="Only those sent from this ISO-8601 instant (without an offset: UTC).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def sms_list(limit: int, since: str | None, as_json: bool) -> None:
    """Texts, oldest first (the table masks numbers)."""
    from ivr.routing.regions import mask

    rows = open_runtime().sms.outbox(limit=limit, since=parse_instant(since, "--since"))
    _say_if_cut(len(rows), limit)
    if as_json:
        emit(rows)
        return
    table([{**r, "to": mask(r["to"])} for r in rows], ["to", "status", "created_at", "body"])


@sms.command("retry")
def sms_retry() -> None:
    """Send the queued texts, and again the failed ones whose next try has come (backoff 30 s,
    doubling; 5 tries): the pass each server's sender thread makes."""
    from ivr.runtime import system_clock

    runtime = open_runtime()
    counts = runtime.sms.retry_due(system_clock())
    if runtime.sms.client is None:
        click.echo("SMS are not sent anywhere (TWILIO_ACCOUNT_SID unset): nothing to retry")
        return
    click.echo(f"sent {counts['sent']}, failed again {counts['failed']}, given up {counts['expired']}")


@main.group()
def wallet() -> None:
    """Look into the wallet back end (the demo wallet unless IVR_WALLET_URL is set)."""


@wallet.command("show")
@click.argument("account")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the contract's fields) instead of a table."
)
def wallet_show(account: str, as_json: bool) -> None:
    """One account: username, registered phone, locked."""
    found = open_runtime().wallet.get_account(account)
    if found is None:
        raise click.ClickException(f"no account {account}")
    show(found.as_json(), as_json)


@wallet.command("txn")
@click.argument("reference")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the contract's fields) instead of a table."
)
def wallet_txn(reference: str, as_json: bool) -> None:
    """One transaction: account, status, amount."""
    found = open_runtime().wallet.get_transaction(reference)
    if found is None:
        raise click.ClickException(f"no transaction {reference}")
    show(found.as_json(), as_json)


@main.command()
@click.option("--from", "caller", required=True, help="The caller's number (or anonymous).")
@click.option("--to", "dialed", default=None, help="The number dialed (default: the caller's region's).")
@click.option("--at", "at", help="Run the whole call at this instant (in-process only). " + AT_HELP)
@click.option(
    "--keys",
    help="Keys for each menu in turn, comma-separated ('' is silence); an entry may be say:TEXT or "
    "say@0.42:TEXT (speech, with a confidence) or @code (the last one-time code texted). Else stdin, "
    'one line per menu; a line in "quotes" is speech.',
)
@click.option(
    "--dial-status",
    type=click.Choice(["completed", "busy", "no-answer", "failed", "canceled"]),
    default="completed",
    show_default=True,
    help="How every <Dial> ends.",
)
@click.option(
    "--queue-result",
    type=click.Choice(["bridged", "hangup", "queue-full", "error"]),
    default="bridged",
    show_default=True,
    help="How a queue wait ends (unless the caller leaves).",
)
@click.option(
    "--hold",
    is_flag=True,
    help="Play Twilio's REST API in-process, as a server with TWILIO_ACCOUNT_SID: a dialing region's "
    "caller waits on hold (music, 3 to lock) while the IVR rings the agents (in-process only).",
)
@click.option(
    "--url",
    help="A running server's base URL (http://127.0.0.1:5000; a URL ending in /voice is taken as its "
    "base); requests are signed with TWILIO_AUTH_TOKEN.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the transcript as JSON.")
def call(
    caller: str,
    dialed: str | None,
    at: str | None,
    keys: str | None,
    dial_status: str,
    queue_result: str,
    hold: bool,
    url: str | None,
    as_json: bool,
) -> None:
    """Simulate a call: what the caller hears and does, step by step."""
    from ivr.tools.scenarios import simulate
    from ivr.tools.simulator import SimulationError, Simulator, keys_from_list, signed_transport

    config = load_or_exit()
    instant = parse_instant(at)
    warn_if_not_a_number(config, caller, dialed)
    if dialed is None:
        from ivr.routing.regions import route_call

        dialed = route_call(config, caller, None).region.numbers[0]
    key_list = keys.split(",") if keys is not None else None
    if url:
        url = url.rstrip("/").removesuffix("/voice")
    else:
        _say_if_closed_by_ops(config, caller, dialed, instant)
    keypad = None if key_list is not None else _stdin_keypad(quiet=as_json)
    printer = None if as_json else _print_step
    try:
        if url:
            if instant is not None:
                raise click.UsageError("--at needs the in-process simulator: a server keeps its own clock")
            if hold:
                raise click.UsageError("--hold needs the in-process simulator: a server calls Twilio itself")
            transcript = Simulator(
                signed_transport(url, _token(), _http_send),
                caller,
                dialed,
                keypad or keys_from_list(key_list or []),
                dial_status,
                queue_result,
                on_step=printer,
            ).run()
            extra: dict[str, Any] = {}
        else:
            outcome = simulate(
                config_dir(),
                caller,
                dialed,
                instant,
                key_list,
                dial_status,
                queue_result,
                on_step=printer,
                keypad=keypad,
                hold=hold,
            )
            transcript = outcome.transcript
            extra = {
                "region": outcome.region,
                "language": outcome.language,
                "cases": dict(outcome.cases),
                "sms": outcome.sms,
            }
    except SimulationError as error:
        raise click.ClickException(f"simulation stopped: {error}") from None
    left = simulator_left_keys(key_list, transcript) if key_list is not None else ""
    if left:
        click.echo(f"warning: the call ended before these --keys were used: {left}", err=True)
    if as_json:
        emit({**transcript.as_json(), **extra})
    else:
        click.echo(f"-- call ended: {transcript.ended}; dialed: {', '.join(transcript.dialed) or 'nobody'}")


def simulator_left_keys(keys: list[str], transcript: Any) -> str:
    """The --keys entries the call never asked for, as the user typed them ('' if none)."""
    used = sum(1 for step in transcript.steps if step["verb"] == "Gather")
    left = keys[used:]
    return ",".join(left) if left else ""


def _say_if_closed_by_ops(config: Config, caller: str, dialed: str, at: datetime | None) -> None:
    """The in-process simulator runs on a scratch store: an emergency closure in the real store
    does not apply there. Say so when one is in force for the caller's region (the real store
    is only read, and only if it exists: the simulation changes nothing real)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from ivr.routing.hours import Emergency
    from ivr.routing.regions import route_call
    from ivr.store import Store, closures

    url = settings().store_url
    database = make_url(url).database
    if url.startswith("sqlite") and (not database or not Path(database).exists()):
        return
    region = route_call(config, caller, dialed).region
    store = Store(url)
    try:
        with store.engine.connect() as connection:
            if not inspect(connection).has_table("emergency_closures"):
                return
            rows = [row for row in closures.in_force(connection) if row["region"] == region.code]
    except Exception:
        return  # no real store to look at: nothing to say
    finally:
        store.dispose()
    now = at or datetime.now(UTC)
    for row in rows:
        if Emergency(row["reason"], row["until"], row["category"]).covers(now):
            click.echo(
                f"note: {region.code} is closed by ops in the real store ({row['reason']}); this "
                "simulation runs on a scratch store without it (rehearse a closure with `hours.yaml`)",
                err=True,
            )


def _token() -> str:
    from ivr import DEV_TOKEN

    token = settings().twilio_auth_token
    if not token:
        click.echo(f"ivr call: TWILIO_AUTH_TOKEN unset, signing with the dev token {DEV_TOKEN!r}", err=True)
    return token or DEV_TOKEN


def _http_send(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    import requests

    try:
        response = requests.post(url, data=form, headers=headers, timeout=15)
    except requests.ConnectionError:
        from ivr.tools.simulator import SimulationError

        raise SimulationError(f"POST {url}: no server answers there (is `scripts/serve` running?)") from None
    except requests.RequestException as exc:
        from ivr.tools.simulator import SimulationError

        raise SimulationError(f"POST {url}: {type(exc).__name__}") from None
    return response.status_code, response.text


def _stdin_keypad(quiet: bool) -> Any:
    """One line of keys per menu from stdin; an empty line is silence, end of input hangs up."""

    def press(_heard: str) -> str | None:
        if not quiet and sys.stdin.isatty():
            click.echo("keys> ", nl=False, err=True)
        line = sys.stdin.readline()
        if line == "":
            if not quiet and sys.stdin.isatty():
                click.echo(err=True)  # end of input: "hung up" goes on its own line
            return None
        line = line.strip()
        if line.startswith('"'):  # a line in quotes is speech: "stolen wallet"
            return "say:" + line.strip('"')
        return line

    return press


def _print_step(step: dict[str, Any]) -> None:
    if step["verb"] == "Say":
        click.echo(f"[{step['language']}] {step['text']}")
    else:
        click.echo(f"  > {step['text']}")


@main.group()
def scenarios() -> None:
    """Scripted calls with expectations (tests/scenarios/)."""


@scenarios.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def scenarios_run(paths: tuple[Path, ...]) -> None:
    """Run scenario files (or folders of them): a PASS/FAIL line each, exit 1 on any failure."""
    from ivr.tools import scenarios as scenario_module
    from ivr.tools.simulator import SimulationError

    load_or_exit()
    passed = failed = 0
    for path in scenario_module.scenario_files(list(paths)):
        try:
            scenario = scenario_module.load(path)
            outcome = scenario_module.simulate(
                config_dir(),
                scenario.caller,
                scenario.to or "",
                scenario.at,
                scenario.keys,
                scenario.dial_status,
                scenario.queue_result,
                hold=scenario.hold,
            )
            problems = scenario_module.check(scenario, outcome)
            name = scenario.name
        except ConfigError as error:
            problems, name = error.errors, path.name
        except SimulationError as error:
            problems, name = [f"simulation stopped: {error}"], path.name
        if problems:
            failed += 1
            click.echo(f"FAIL {path.name}" + (f": {name}" if name != path.name else ""))
            for problem in problems:
                click.echo(f"     - {problem}")
        else:
            passed += 1
            click.echo(f"PASS {path.name}: {name}")
    click.echo(f"{passed} passed, {failed} failed")
    if failed or not passed:
        sys.exit(1)


@main.command()
@click.argument("region")
@click.option("--from", "start", help="First day, YYYY-MM-DD (default: today in the region).")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 400))
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the contract's fields) instead of a table."
)
def hours(region: str, start: str | None, days: int, as_json: bool) -> None:
    """A day-by-day table of REGION's open intervals, holidays and closures (local time)."""
    from datetime import date

    from ivr.routing.hours import week_table

    config = load_or_exit()
    if region not in config.regions:
        raise click.BadParameter(f"{region!r} is not one of {', '.join(config.regions)}", param_hint="REGION")
    chosen = config.regions[region]
    try:
        first = date.fromisoformat(start) if start else datetime.now(chosen.zone).date()
    except ValueError:
        raise click.BadParameter(f"{start!r} is not a date like 2026-02-17", param_hint="--from") from None
    schedule = config.schedule_for(chosen)
    rows = [
        {
            "date": d.date.isoformat(),
            "weekday": d.date.strftime("%a"),
            "open": ["00:00-24:00"] if schedule.always_open else [str(i) for i in d.intervals],
            "kind": "always_open" if schedule.always_open else d.kind,
            "note": d.detail,
        }
        for d in week_table(schedule, first, days)
    ]
    if as_json:
        emit({"region": region, "timezone": chosen.timezone, "days": rows})
        return
    click.echo(f"{region} ({chosen.name}), local time {chosen.timezone}")
    labels = {
        "holiday": "holiday",
        "closure": "closed",
        "special_hours": "special hours",
        "make_up_workday": "make-up working day",
        "regular": "",
        "always_open": "24 hours",
    }
    for row in rows:
        intervals = ", ".join(row["open"]) or "closed"
        note = "; ".join(part for part in (labels[str(row["kind"])], str(row["note"])) if part)
        click.echo(f"{row['date']} {row['weekday']}  {intervals:<24} {note}".rstrip())


@main.command("twilio-setup")
@click.option(
    "--public-url",
    required=True,
    help="The https:// base URL Twilio reaches this server at (its IVR_PUBLIC_URL; the server's "
    "banner form ending in /voice is taken as that base).",
)
def twilio_setup(public_url: str) -> None:
    """Twilio CLI commands that point every dialed number at this server (pipe them to sh)."""
    from urllib.parse import urlsplit

    config = load_or_exit()
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname or parts.hostname in ("localhost", "127.0.0.1"):
        raise click.BadParameter(
            "must be a public https:// URL (use a tunnel for a local server)", param_hint="--public-url"
        )
    base = public_url.rstrip("/").removesuffix("/voice")  # the banner prints the Voice URL itself
    click.echo("# Generated by `ivr twilio-setup`: points each number at this IVR. Needs the Twilio CLI,")
    click.echo("# logged in (twilio login) or with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN set.")
    for code, region in config.regions.items():
        for number in region.numbers:
            click.echo(f"# {code}: {number}")
            click.echo(
                f"twilio phone-numbers:update {number} --voice-url {base}/voice --voice-method POST "
                f"--voice-fallback-url {base}/voice/fallback --voice-fallback-method POST"
            )
            click.echo(
                f"sid=$(twilio api:core:incoming-phone-numbers:list --phone-number {number} "
                f"--properties sid --no-header) && twilio api:core:incoming-phone-numbers:update "
                f'--sid "$sid" --status-callback {base}/voice/status --status-callback-method POST'
            )


@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to DATABASE_URL (safe while servers run; one at a time)."""
    from ivr.store import Store

    store = Store(settings().store_url)
    before, after = store.upgrade()
    click.echo(f"database at {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    store.dispose()


@db.command("purge")
@click.option("--batch", default=50_000, show_default=True, type=click.IntRange(1), help="Rows per table.")
def db_purge(batch: int) -> None:
    """Delete what is past keeping (attempts, step answers, call state, codes, tokens, old
    texts); servers also do this by themselves, a batch every ~10 minutes."""
    from ivr.store.purge import KEEP

    counts = open_runtime().purge(batch)
    for table, removed in counts.items():
        click.echo(f"{table:<15} {removed:>7} removed (kept: {KEEP[table]})")


@main.group()
def region() -> None:
    """Emergency closures: in force on every server at its next call (within a second)."""


def runtime_for_region(code: str) -> Any:
    runtime = open_runtime()
    if code not in runtime.config.regions:
        raise click.BadParameter(
            f"{code!r} is not one of {', '.join(runtime.config.regions)}", param_hint="REGION"
        )
    return runtime


@region.command("close")
@click.argument("code", metavar="REGION")
@click.option("--reason", required=True, help="What happened, for ops (callers hear --category).")
@click.option(
    "--category",
    type=click.Choice(["outage", "weather", "maintenance", "other"]),
    default="other",
    show_default=True,
    help="What callers are told, in their language.",
)
@click.option(
    "--until",
    "until",
    help="When it ends, ISO-8601 (without an offset: UTC). Default: until `ivr region reopen`.",
)
def region_close(code: str, reason: str, category: str, until: str | None) -> None:
    """Close REGION's agents now; self-service and theft lockdown keep working."""
    runtime = runtime_for_region(code)
    end = parse_instant(until, "--until")
    if end is not None and end <= runtime.now():
        raise click.UsageError(f"--until: {until!r} has already passed; a closure must end in the future")
    runtime.close_region(code, reason, category, end)
    click.echo(
        f"{code} closed ({category}: {reason})" + (f" until {end.isoformat()}" if end else " until reopened")
    )


@region.command("reopen")
@click.argument("code", metavar="REGION")
def region_reopen(code: str) -> None:
    """End REGION's emergency closure: its normal schedule applies again."""
    runtime = runtime_for_region(code)
    click.echo(f"{code} reopened" if runtime.reopen_region(code) else f"{code} had no emergency closure")


@main.command()
@click.option("--from", "start", help="Start, ISO-8601 (without an offset: UTC). Default: 7 days ago.")
@click.option("--to", "end", help="End, ISO-8601 (without an offset: UTC). Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(start: str | None, end: str | None, as_json: bool) -> None:
    """Calls by region and outcome, containment, time to lockdown, callbacks waiting."""
    from ivr.tools.reports import build_report

    runtime = open_runtime()
    data = build_report(runtime, parse_instant(start, "--from"), parse_instant(end, "--to"))
    if as_json:
        emit(data)
        return
    shown = {
        key: datetime.fromisoformat(data[key]).replace(microsecond=0).isoformat() for key in ("from", "to")
    }
    click.echo(f"Calls {shown['from']} to {shown['to']}: {data['calls']}")
    table(
        [{"region": r, **counts} for r, counts in data["by_region"].items()],
        ["region", "calls", *data["outcomes"]],
    )
    click.echo(
        f"Self-service containment: {data['containment_rate']:.0%} "
        f"(lockdown, recovery, transaction, dispute without an agent)"
    )
    median = data["median_seconds_to_lockdown"]
    click.echo(f"Median time from answer to lockdown: {'-' if median is None else f'{median:.0f} s'}")
    waiting = data["callbacks_waiting"]
    click.echo(
        f"Callbacks waiting: {waiting['count']}"
        + (f", oldest {waiting['oldest_minutes']:.0f} min" if waiting["count"] else "")
    )
