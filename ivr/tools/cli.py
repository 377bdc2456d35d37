"""The `ivr` command: check config, route a number, serve, simulate calls, ops tools."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
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
    """An ISO-8601 instant with its UTC offset: the rule of scenarios and IVR_CLOCK too, since a
    time without one could be any region's."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.UsageError(
            f"{option}: {value!r} is not an ISO-8601 date and time (e.g. 2026-02-17T12:00:00+08:00)"
        ) from None
    if instant.tzinfo is None:
        example = value if "T" in value else f"{value}T00:00:00"  # a date alone takes a time first
        raise click.UsageError(
            f"{option}: {value!r} has no UTC offset; add one, e.g. {example}+08:00 or {example}Z"
        )
    return instant


LIST_LIMIT = 1000
LIMIT_HELP = "At most this many, the newest."
JSON_HELP = "Print JSON (the contract's fields) instead of a table."
AT_HELP = "ISO-8601 instant with its UTC offset, e.g. 2026-02-17T12:00:00+08:00 (default: now)."


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

    folder = config_dir()
    try:
        return load_config(folder, PROMPT_KEYS, PHRASE_KEYS)
    except ConfigError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        if not (folder / "regions.yaml").exists():
            where = folder if folder.is_absolute() else f"{folder}/ under {Path.cwd()}"
            click.echo(
                f"hint: no config at {where}: run ivr from the repository root, or set "
                "IVR_CONFIG_DIR to the folder holding regions.yaml",
                err=True,
            )
        sys.exit(1)


def open_runtime(observer: Any = None) -> Any:
    """The runtime on the environment's store and config, as the server would build it
    (reporting to `observer`, a long-running command's metrics)."""
    from ivr.runtime import build_runtime

    load_or_exit()
    return build_runtime(
        settings(), snapshot=False, observer=observer
    )  # only servers keep the last good config


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
    import errno
    import socket

    from werkzeug.serving import make_server

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
    # Bind first, so a busy port is one line of ours before any banner (werkzeug's own message
    # comes after it and exits); the server then takes the bound socket.
    try:
        listener = socket.create_server((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another server?); stop it, or serve on "
                f"another port: scripts/serve --port {port + 1}"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    if not app.extensions["ivr"].store.ping():
        click.echo(
            f"warning: the store at {store_name()} does not answer: calls are answered, but steps "
            "that need it apologise and dial the hotline until it does (/readyz says 503)",
            err=True,
        )
    configure()  # the same JSON log lines as production, on stderr
    # werkzeug's own request lines carry whole URLs (a callback number rides on one): the IVR's
    # JSON line per webhook says what a request line would, with numbers masked.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True, fd=listener.fileno())
    app.extensions["ivr"].sms.start(app.extensions["ivr"].now)  # texts to Twilio, off the webhooks
    click.echo(f"Serving the IVR on http://{host}:{port}/voice", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        listener.close()


@main.group()
def cases() -> None:
    """Lockdowns, disputes, callbacks and voicemails."""


@cases.command("list")
@click.option("--kind", type=click.Choice(["lockdown", "dispute", "callback", "voicemail"]))
@click.option("--status", type=click.Choice(["open", "calling", "closed", "failed"]))
@click.option("--limit", default=LIST_LIMIT, show_default=True, type=click.IntRange(1), help=LIMIT_HELP)
@click.option("--since", help="Only those created from this ISO-8601 instant (with its UTC offset).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def cases_list(kind: str | None, status: str | None, limit: int, since: str | None, as_json: bool) -> None:
    """Cases, oldest first (callback numbers masked in the table, full in --json)."""
    from ivr.store.cases import list_cases, masked

    runtime = open_runtime()
    with runtime.store.begin() as connection:
        rows = list_cases(
            connection, kind, status=status, limit=limit + 1, since=parse_instant(since, "--since")
        )
    rows = _newest(rows, limit)
    if as_json:
        emit(rows)
        return
    table([masked(r) for r in rows], ["reference", "kind", "account", "region", "status", "created_at"])


def _newest(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The newest `limit` of `rows` (oldest first, fetched with one more than `limit`, so a
    list that fits is never said to be cut), and a note on stderr when some were left out."""
    if len(rows) <= limit:
        return rows
    click.echo(f"note: the newest {limit} shown; use --limit or --since for others", err=True)
    return rows[-limit:]


@cases.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def cases_show(reference: str, as_json: bool) -> None:
    """One case: its fields, a callback's attempts, and who closed it, when and why."""
    from ivr.store.cases import find_case, masked

    runtime = open_runtime()
    with runtime.store.begin() as connection:
        found = find_case(connection, reference)
    if found is None:
        raise click.ClickException(f"no case {reference}")
    if as_json:
        emit(found)
        return
    attempts = found.pop("attempts", None)
    show(masked(found), as_json=False)
    for n, attempt in enumerate(attempts or [], 1):
        click.echo(f"attempt {n}  {attempt['at']}  {attempt['result']}  {' '.join(attempt['call_sids'])}")


@cases.command("close")
@click.argument("reference")
@click.option("--note", required=True, help="What was done: kept with the case.")
def cases_close(reference: str, note: str) -> None:
    """Close an open (or failed) case with a note; the closer is $USER."""
    import getpass

    from ivr.store.cases import CaseNotClosable, close_case

    if not note.strip():
        raise click.UsageError("--note: say what was done")
    runtime = open_runtime()
    try:
        with runtime.store.begin() as connection:
            close_case(connection, reference, by=getpass.getuser(), note=note.strip(), now=runtime.now())
    except CaseNotClosable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"case {reference} closed")


@main.group()
def callbacks() -> None:
    """The callback dialer: the IVR calls back the callers it promised to."""


@callbacks.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (cron, or a look at what is due).")
@click.option(
    "--at",
    "at",
    help="Rehearse one pass at this instant in-process against the simulator's Twilio, on a scratch copy "
    "of the waiting callbacks: nothing is dialed or changed. " + AT_HELP,
)
def callbacks_run(once: bool, at: str | None) -> None:
    """Dial waiting callbacks through Twilio's Calls API (TWILIO_API_URL) in their region's open
    hours, theft first, then oldest; one line per attempt."""
    from ivr.callbacks import Dialer

    instant = parse_instant(at)
    if instant is not None:
        from ivr.tools.rehearsal import rehearse

        load_or_exit()
        rehearse(config_dir(), settings().store_url, instant, click.echo)
        return
    environment = settings()
    if not environment.public_url:
        raise click.ClickException("IVR_PUBLIC_URL is not set: Twilio must reach the callback legs' webhooks")
    metrics = None
    if environment.prometheus_multiproc_dir:  # its counters join the web workers' /metrics
        from ivr.web.metrics import Metrics

        metrics = Metrics(multiprocess=True)
    runtime = open_runtime(observer=metrics)
    if not runtime.services.line.available:
        raise click.ClickException(
            "TWILIO_ACCOUNT_SID is not set: the dialer places calls through Twilio's Calls API"
        )
    dialer = Dialer(runtime, environment.public_url)
    if once:
        attempts = dialer.run_once(runtime.now())
        for attempt in attempts:
            click.echo(attempt.line())
        click.echo(f"{len(attempts)} attempt(s)")
        return
    click.echo("dialing waiting callbacks in open hours; Ctrl-C stops", err=True)
    dialer.run_forever(click.echo)


@main.group()
def sms() -> None:
    """The SMS outbox."""


@sms.command("list")
@click.option("--limit", default=LIST_LIMIT, show_default=True, type=click.IntRange(1), help=LIMIT_HELP)
@click.option("--since", help="Only those sent from this ISO-8601 instant (with its UTC offset).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def sms_list(limit: int, since: str | None, as_json: bool) -> None:
    """Texts, oldest first (the table masks numbers)."""
    from ivr.routing.regions import mask

    rows = _newest(open_runtime().sms.outbox(limit=limit + 1, since=parse_instant(since, "--since")), limit)
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
    found = _from_wallet(open_runtime().wallet.get_account, account)
    if found is None:
        raise click.ClickException(f"no account {account}")
    show(found.as_json(), as_json)


def _from_wallet(read: Any, key: str) -> Any:
    """One read of the wallet back end; one line, not a traceback, when it does not answer."""
    from ivr.wallet import WalletError

    try:
        return read(key)
    except WalletError as exc:
        raise click.ClickException(
            f"the wallet back end did not answer ({exc}); is IVR_WALLET_URL right?"
        ) from None


@wallet.command("txn")
@click.argument("reference")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the contract's fields) instead of a table."
)
def wallet_txn(reference: str, as_json: bool) -> None:
    """One transaction: account, status, amount."""
    found = _from_wallet(open_runtime().wallet.get_transaction, reference)
    if found is None:
        raise click.ClickException(f"no transaction {reference}")
    show(found.as_json(), as_json)


@wallet.command("reset")
def wallet_reset() -> None:
    """Put the demo wallet back as seeded: unlocked, its transfers as they were (demo only)."""
    from ivr.wallet.demo import DemoWallet

    runtime = open_runtime()
    backend = getattr(runtime.wallet, "wallet", runtime.wallet)  # under the guard
    if not isinstance(backend, DemoWallet):
        raise click.ClickException("IVR_WALLET_URL is set: only the demo wallet can be reset")
    accounts, transactions = backend.reset()
    click.echo(f"demo wallet reset: {accounts} accounts, {transactions} transactions, as seeded")


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
        url = _server_url(url, key_list)
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


def _server_url(url: str, keys: list[str] | None) -> str:
    """--url as the base of a running server's webhooks, refused before any call is made when
    it cannot work."""
    from urllib.parse import urlsplit

    if urlsplit(url).scheme not in ("http", "https"):
        raise click.UsageError(
            f"--url: {url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:5000)"
        )
    if keys is not None and "@code" in keys:
        raise click.UsageError(
            "@code needs the in-process simulator: with --url the texts are in the server's store"
        )
    return url.rstrip("/").removesuffix("/voice")


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
    except requests.exceptions.SSLError:
        from ivr.tools.simulator import SimulationError

        plain = "http://" + url.removeprefix("https://")
        raise SimulationError(
            f"POST {url}: no TLS there (scripts/serve speaks plain http: try {plain.removesuffix('/voice')})"
        ) from None
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
                dialer=scenario.dialer,
                redirect_fails=scenario.redirect_fails,
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
        click.echo(f"{table:<15} {removed:>7} removed (kept: {_duration(KEEP[table])})")


def _duration(span: timedelta) -> str:
    """`1 day`, `30 days`, `1 hour`: a keeping period as ops would say it."""
    count, unit = (
        (span.days, "day")
        if span % timedelta(days=1) == timedelta(0)
        else (span // timedelta(hours=1), "hour")
    )
    return f"{count} {unit}" + ("" if count == 1 else "s")


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
    help="When it ends, ISO-8601 with its UTC offset. Default: until `ivr region reopen`.",
)
def region_close(code: str, reason: str, category: str, until: str | None) -> None:
    """Close REGION's agents now; self-service and theft lockdown keep working."""
    runtime = runtime_for_region(code)
    end = parse_instant(until, "--until")
    if end is not None and end <= runtime.now():
        raise click.UsageError(f"--until: {until!r} has already passed; a closure must end in the future")
    replaced = runtime.close_region(code, reason, category, end)
    for row in replaced:  # one closure per region: the new one takes the old one's place
        click.echo(f"{code} was already closed ({row['category']}: {row['reason']}): replaced")
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
@click.option("--from", "start", help="Start, ISO-8601 with its UTC offset. Default: 7 days ago.")
@click.option("--to", "end", help="End, ISO-8601 with its UTC offset. Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(start: str | None, end: str | None, as_json: bool) -> None:
    """Calls by region and outcome, containment, time to lockdown, callbacks waiting."""
    from ivr.reports import build_report

    first, last = parse_instant(start, "--from"), parse_instant(end, "--to")
    if first is not None and last is not None and first >= last:
        raise click.UsageError(f"--from: {start!r} is not before --to {end!r}")
    runtime = open_runtime()
    data = build_report(runtime, first, last)
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
    done = data["callbacks"]
    median_wait = done["median_minutes_to_call"]
    click.echo(
        f"Callbacks done: {done['done']}, failed: {done['failed']}; median from request to call: "
        + ("-" if median_wait is None else f"{median_wait:.0f} min")
    )
