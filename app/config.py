"""Settings read from the environment, with defaults for the embedded set-up (SQLite file, local SMTP)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.clock import parse_instant
from app.domain.local_time import DEFAULT_ZONE, UnknownTimeZone, zone

# The checkout the package runs from (an editable install, `make run`, the tests). In an installed package this is
# site-packages: nothing is read or written there but the package's own files (see bundled() and instance_dir()).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bundled(*parts: str) -> Path | None:
    """A folder the build put into the package (app/bundled/: see setup.py), or None in a checkout, which has none:
    the default process models and forms, the front-end files from npm."""
    found = resources.files("app").joinpath("bundled", *parts)
    return found if isinstance(found, Path) and found.is_dir() else None


def default_bpmn_dir() -> Path:
    """What `rf init` deploys: the installed package's models, else the checkout's bpmn/."""
    return bundled("bpmn") or PROJECT_ROOT / "bpmn"


def default_forms_dir() -> Path:
    return bundled("forms") or PROJECT_ROOT / "forms"


def vendor_dir(name: str) -> Path:
    """The files of an npm package the app serves ("bpmn-js": its dist/, "swagger-ui": swagger-ui-dist), from the
    installed package, else from the checkout's node_modules/ (`make install` runs npm ci)."""
    in_checkout = {"bpmn-js": PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist",
                   "modeler": PROJECT_ROOT / "web" / "dist",  # the modeler's bundle, built by `make install`
                   "swagger-ui": PROJECT_ROOT / "node_modules" / "swagger-ui-dist"}[name]
    return bundled("vendor", name) or in_checkout


# ES modules the upload page imports to lay out a diagram that has no diagram interchange: bpmn-auto-layout and what
# it imports (bpmn-js's own bundle does not expose them)
ESM_PACKAGES = ("bpmn-auto-layout", "bpmn-moddle", "moddle", "moddle-xml", "min-dash", "saxen")


def esm_dir(package: str) -> Path:
    """The folder holding `index.js` (the ES module build) of one of ESM_PACKAGES."""
    return bundled("vendor", "esm", package) or PROJECT_ROOT / "node_modules" / package / "dist"


def instance_dir(env: Mapping[str, str]) -> Path:
    """Where the app keeps its data (the SQLite file, the secret key, the mail sink's messages): RF_INSTANCE_DIR,
    else the checkout's instance/ when running from a checkout, else instance/ in the working directory (never
    inside site-packages). Made absolute here, so a later change of directory does not move it."""
    configured = env.get("RF_INSTANCE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser().absolute()
    if bundled() is None:
        return PROJECT_ROOT / "instance"
    return Path.cwd() / "instance"


@dataclass(frozen=True)
class Settings:
    database_url: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    bpmn_dir: Path
    forms_dir: Path
    service_max_attempts: int
    service_backoff_seconds: float
    # RF_INSTANCE_DIR: the SQLite file (when RF_DATABASE_URL is unset), the secret key, the mail sink's messages
    instance_dir: Path = field(default_factory=lambda: instance_dir({}))
    clock_start: datetime | None = None  # RF_CLOCK_START: run the app's clock from this instant (tests, demos)
    # Sign-in and sessions (see the README's "Security and reliability")
    session_idle_minutes: int = 720  # RF_SESSION_IDLE_MINUTES: a session unused this long has ended
    session_max_hours: int = 168  # RF_SESSION_MAX_HOURS: no session lasts longer, however busy
    https: bool = False  # RF_HTTPS: served over HTTPS (Secure cookie, HSTS)
    trusted_proxies: int = 0  # RF_TRUSTED_PROXIES: reverse proxies in front whose X-Forwarded-For/-Proto to trust
    sign_in_account_failures: int = 5  # RF_SIGN_IN_ACCOUNT_FAILURES: failures in a row before an account locks
    sign_in_address_failures: int = 20  # RF_SIGN_IN_ADDRESS_FAILURES: failures before a client address locks
    sign_in_lock_seconds: int = 30  # RF_SIGN_IN_LOCK_SECONDS: the first lock; each further failure doubles it
    sign_in_lock_max_seconds: int = 900  # RF_SIGN_IN_LOCK_MAX_SECONDS: the longest lock
    # Scripts, conditions, timer and parameter expressions: the script time of one engine operation (all of its
    # evaluations together) and what one evaluation may allocate. A user waits for it and, on SQLite, every other
    # writer too: 2 s is long for a script (ours take well under a millisecond) and short for a blocked writer.
    script_time_limit_seconds: float = 2.0
    script_memory_limit_mb: int = 64  # task data is a few kB; 64 MB is room for a big table, not for a bomb
    # The external systems over HTTP (docs/crm-integration.md). A system whose URL is unset is the built-in one that
    # keeps its records in our database. Tokens and the feed secret never appear in a repr (logs, tracebacks).
    crm_url: str | None = None  # RF_CRM_URL, e.g. https://crm.example/api/rf
    crm_token: str | None = field(default=None, repr=False)  # RF_CRM_TOKEN: sent as "Authorization: Bearer …"
    billing_url: str | None = None  # RF_BILLING_URL
    billing_token: str | None = field(default=None, repr=False)  # RF_BILLING_TOKEN
    asd_url: str | None = None  # RF_ASD_URL
    asd_token: str | None = field(default=None, repr=False)  # RF_ASD_TOKEN
    http_timeout_seconds: float = 10.0  # RF_HTTP_TIMEOUT_SECONDS: connect, read and write, each
    crm_feed_secret: str | None = field(default=None, repr=False)  # RF_CRM_FEED_SECRET: the case feed's HMAC key
    # Outbound webhooks: how long one POST may take, how many attempts before a delivery fails, the first retry delay
    # (doubling after every failed attempt, at most 6 hours)
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 10
    webhook_backoff_seconds: float = 30.0
    # The database connection pool of each process (PostgreSQL; a SQLite file keeps 5 idle ones). Each gunicorn
    # process and each `rf worker` has its own pool: the database sees up to processes x (size + overflow).
    db_pool_size: int = 5  # RF_DB_POOL_SIZE: connections kept open
    db_max_overflow: int = 10  # RF_DB_MAX_OVERFLOW: extra connections opened under load, closed when returned
    db_pool_timeout: float = 30.0  # RF_DB_POOL_TIMEOUT: seconds to wait for a free connection before failing
    db_pool_recycle: int = 1800  # RF_DB_POOL_RECYCLE: reopen a connection older than this (seconds; 0: never)
    db_pool_pre_ping: bool = True  # RF_DB_POOL_PRE_PING: test a connection before use (survives a DB restart)
    # RF_DB_POOL_PING_AFTER: test it only when it sat in the pool at least this long (seconds; 0: before every use)
    db_pool_ping_after: float = 1.0
    # Logs and metrics (see the README's "Running in production")
    log_format: str = "json"  # RF_LOG_FORMAT: json (one object per line on stderr) | text
    log_level: str = "INFO"  # RF_LOG_LEVEL: DEBUG | INFO | WARNING | ERROR
    metrics_token: str | None = field(default=None, repr=False)  # RF_METRICS_TOKEN: bearer token for /metrics
    # The worker (see the README's "Running in production"): it wakes as soon as a commit makes work due (PostgreSQL
    # LISTEN/NOTIFY between processes, an in-process signal within one) and otherwise looks every poll interval.
    worker_poll_seconds: float = 2.0  # RF_WORKER_POLL_SECONDS: the longest a worker sleeps between passes
    worker_listen: bool = True  # RF_WORKER_LISTEN: 0 turns the wake-up off (poll only: for comparison)
    # RF_TIME_ZONE: the zone people read times in (pages, emails) unless they chose their own, and in which a timer
    # that names only a date fires (at the business day's start). Storage, the API and the exports stay UTC.
    time_zone: str = DEFAULT_ZONE
    # Attachments on requests (see app/domain/attachment_rules.py for the types allowed)
    attachment_max_bytes: int = 10 * 1024 * 1024  # RF_ATTACHMENT_MAX_MB: the largest file (default 10 MB)
    attachment_storage: str = "database"  # RF_ATTACHMENT_STORAGE: database | disk
    attachment_dir: Path | None = None  # RF_ATTACHMENT_DIR: the folder of the disk storage (instance/attachments)
    # The customer's emailed replies: the inbound SMTP endpoint (`rf serve` runs it unless the port is 0;
    # `rf inbound-mail` runs it alone), the domain of the reply+<token>@ addresses, the key of the tokens.
    inbound_mail_host: str = "127.0.0.1"  # RF_INBOUND_MAIL_HOST
    inbound_mail_port: int = 8026  # RF_INBOUND_MAIL_PORT (0: `rf serve` runs no inbound endpoint)
    inbound_mail_domain: str = "omes.example"  # RF_INBOUND_MAIL_DOMAIN (default: the domain of RF_MAIL_FROM)
    inbound_mail_max_bytes: int = 2 * 1024 * 1024  # RF_INBOUND_MAIL_MAX_KB: larger messages are refused (552)
    reply_token_secret: str | None = field(default=None, repr=False)  # RF_REPLY_TOKEN_SECRET (else the secret key)
    # RF_MAIL_CONTACT: the contact line of the provider groups' signature in customer emails (default: RF_MAIL_FROM)
    mail_contact: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = instance_dir(env)
        return cls(
            database_url=env.get("RF_DATABASE_URL", f"sqlite:///{instance / 'rf.sqlite3'}"),
            smtp_host=env.get("RF_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("RF_SMTP_PORT", "8025")),
            mail_from=env.get("RF_MAIL_FROM", "request-fulfillment@omes.example"),
            bpmn_dir=Path(env["RF_BPMN_DIR"]) if env.get("RF_BPMN_DIR") else default_bpmn_dir(),
            forms_dir=Path(env["RF_FORMS_DIR"]) if env.get("RF_FORMS_DIR") else default_forms_dir(),
            service_max_attempts=int(env.get("RF_SERVICE_MAX_ATTEMPTS", "5")),
            service_backoff_seconds=float(env.get("RF_SERVICE_BACKOFF_SECONDS", "2")),
            instance_dir=instance,
            clock_start=_clock_start(env.get("RF_CLOCK_START", "")),
            session_idle_minutes=_positive(env, "RF_SESSION_IDLE_MINUTES", 720),
            session_max_hours=_positive(env, "RF_SESSION_MAX_HOURS", 168),
            https=_flag(env, "RF_HTTPS"),
            trusted_proxies=_positive(env, "RF_TRUSTED_PROXIES", 0, allow_zero=True),
            sign_in_account_failures=_positive(env, "RF_SIGN_IN_ACCOUNT_FAILURES", 5),
            sign_in_address_failures=_positive(env, "RF_SIGN_IN_ADDRESS_FAILURES", 20),
            sign_in_lock_seconds=_positive(env, "RF_SIGN_IN_LOCK_SECONDS", 30),
            sign_in_lock_max_seconds=_positive(env, "RF_SIGN_IN_LOCK_MAX_SECONDS", 900),
            script_time_limit_seconds=_bounded("RF_SCRIPT_TIME_LIMIT_SECONDS", env.get(
                "RF_SCRIPT_TIME_LIMIT_SECONDS", "2"), float, 0, 600),
            script_memory_limit_mb=int(_bounded("RF_SCRIPT_MEMORY_LIMIT_MB", env.get(
                "RF_SCRIPT_MEMORY_LIMIT_MB", "64"), int, 16, 65536)),
            **_external_systems(env),
            webhook_timeout_seconds=_bounded("RF_WEBHOOK_TIMEOUT_SECONDS", env.get(
                "RF_WEBHOOK_TIMEOUT_SECONDS", "5"), float, 0, 120),
            webhook_max_attempts=int(_bounded("RF_WEBHOOK_MAX_ATTEMPTS", env.get(
                "RF_WEBHOOK_MAX_ATTEMPTS", "10"), int, 1, 100)),
            webhook_backoff_seconds=_bounded("RF_WEBHOOK_BACKOFF_SECONDS", env.get(
                "RF_WEBHOOK_BACKOFF_SECONDS", "30"), float, 0, 86400),
            **_observability(env),
            worker_poll_seconds=_bounded("RF_WORKER_POLL_SECONDS", env.get("RF_WORKER_POLL_SECONDS", "2"), float,
                                         0, 3600),
            worker_listen="RF_WORKER_LISTEN" not in env or _flag(env, "RF_WORKER_LISTEN"),
            time_zone=_time_zone(env.get("RF_TIME_ZONE", "")),
            **_conversation(env),
            mail_contact=env.get("RF_MAIL_CONTACT", "").strip() or None,
        )


FEED_SECRET_MIN = 16
ATTACHMENT_STORAGES = ("database", "disk")


def _conversation(env: Mapping[str, str]) -> dict[str, Any]:
    """Attachments and the inbound mail endpoint."""
    storage = env.get("RF_ATTACHMENT_STORAGE", "").strip().lower() or "database"
    if storage not in ATTACHMENT_STORAGES:
        raise ValueError(f"RF_ATTACHMENT_STORAGE: {storage!r} is neither database nor disk")
    folder = env.get("RF_ATTACHMENT_DIR", "").strip()
    sender = env.get("RF_MAIL_FROM", "request-fulfillment@omes.example")
    domain = env.get("RF_INBOUND_MAIL_DOMAIN", "").strip() or sender.rsplit("@", 1)[-1].strip("> ")
    secret = env.get("RF_REPLY_TOKEN_SECRET", "").strip() or env.get("RF_SECRET_KEY", "").strip()
    return {
        "attachment_max_bytes": int(_bounded("RF_ATTACHMENT_MAX_MB", env.get("RF_ATTACHMENT_MAX_MB", "10"), float,
                                             0, 1024) * 1024 * 1024),
        "attachment_storage": storage,
        "attachment_dir": Path(folder).expanduser().absolute() if folder else None,
        "inbound_mail_host": env.get("RF_INBOUND_MAIL_HOST", "").strip() or "127.0.0.1",
        "inbound_mail_port": _positive(env, "RF_INBOUND_MAIL_PORT", 8026, allow_zero=True),
        "inbound_mail_domain": domain,
        "inbound_mail_max_bytes": _positive(env, "RF_INBOUND_MAIL_MAX_KB", 2048) * 1024,
        "reply_token_secret": secret or None,
    }
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _observability(env: Mapping[str, str]) -> dict[str, Any]:
    """The connection pool, the log format and level, and the metrics token."""
    log_format = env.get("RF_LOG_FORMAT", "").strip().lower() or "json"
    if log_format not in LOG_FORMATS:
        raise ValueError(f"RF_LOG_FORMAT: {log_format!r} is neither json nor text")
    log_level = env.get("RF_LOG_LEVEL", "").strip().upper() or "INFO"
    if log_level not in LOG_LEVELS:
        raise ValueError(f"RF_LOG_LEVEL: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    token = _token("RF_METRICS_TOKEN", env.get("RF_METRICS_TOKEN", ""))
    if token and len(token) < FEED_SECRET_MIN:
        raise ValueError(f"RF_METRICS_TOKEN: must be at least {FEED_SECRET_MIN} characters")
    pre_ping = "RF_DB_POOL_PRE_PING" not in env or _flag(env, "RF_DB_POOL_PRE_PING")
    return {
        "db_pool_size": _positive(env, "RF_DB_POOL_SIZE", 5),
        "db_max_overflow": _positive(env, "RF_DB_MAX_OVERFLOW", 10, allow_zero=True),
        "db_pool_timeout": _bounded("RF_DB_POOL_TIMEOUT", env.get("RF_DB_POOL_TIMEOUT", "30"), float, 0, 3600),
        "db_pool_recycle": _positive(env, "RF_DB_POOL_RECYCLE", 1800, allow_zero=True),
        "db_pool_pre_ping": pre_ping,
        "db_pool_ping_after": _bounded("RF_DB_POOL_PING_AFTER", env.get("RF_DB_POOL_PING_AFTER", "1"), float, 0, 3600),
        "log_format": log_format, "log_level": log_level, "metrics_token": token,
    }


def _time_zone(value: str) -> str:
    """RF_TIME_ZONE, checked at start-up: an unknown name stops the app with a message, not a page later."""
    name = value.strip() or DEFAULT_ZONE
    try:
        zone(name)
    except UnknownTimeZone as err:
        raise ValueError(f"RF_TIME_ZONE: {err}") from None
    return name


def _external_systems(env: Mapping[str, str]) -> dict[str, Any]:
    """The URL and token of each external system (a URL needs its token), the timeout and the feed's secret."""
    found: dict[str, Any] = {}
    for system in ("crm", "billing", "asd"):
        name = f"RF_{system.upper()}"
        url = _url(f"{name}_URL", env.get(f"{name}_URL", ""))
        token = _token(f"{name}_TOKEN", env.get(f"{name}_TOKEN", ""))
        if url and not token:
            raise ValueError(f"{name}_TOKEN: must be set when {name}_URL is (the bearer token the system expects)")
        found[f"{system}_url"], found[f"{system}_token"] = url, token
    found["http_timeout_seconds"] = _bounded("RF_HTTP_TIMEOUT_SECONDS", env.get("RF_HTTP_TIMEOUT_SECONDS", "10"),
                                             float, 0, 300)
    secret = env.get("RF_CRM_FEED_SECRET", "").strip()
    if secret and len(secret) < FEED_SECRET_MIN:
        raise ValueError(f"RF_CRM_FEED_SECRET: must be at least {FEED_SECRET_MIN} characters (use a random one, "
                         "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    found["crm_feed_secret"] = secret or None
    return found


def _url(name: str, value: str) -> str | None:
    """An http(s) base URL without query or fragment, without its trailing slash; None when unset."""
    text = value.strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as err:
        raise ValueError(f"{name}: {text!r} is not a URL ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name}: {text!r} must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or any(ch.isspace() for ch in text):
        raise ValueError(f"{name}: {text!r} must be a base URL without spaces, query or fragment")
    return text.rstrip("/")


def _token(name: str, value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if not text.isascii() or not text.isprintable() or " " in text:
        raise ValueError(f"{name}: must be printable ASCII without spaces (it is sent in an HTTP header)")
    return text


def _bounded(name: str, value: str, kind: type[float] | type[int], least: float, most: float) -> float:
    try:
        number = kind(value.strip())
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not (least < number <= most if least == 0 else least <= number <= most):
        raise ValueError(f"{name}: {value!r} must be {'above' if least == 0 else 'at least'} {least:g} and at most "
                         f"{most:g}")
    return number


def _clock_start(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return parse_instant(value)
    except ValueError as err:
        raise ValueError(f"RF_CLOCK_START: {err}") from None


def _positive(env: Mapping[str, str], name: str, default: int, allow_zero: bool = False) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a whole number") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: must be {'0 or more' if allow_zero else 'at least 1'}, not {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}: {text!r} is neither yes/true/1 nor no/false/0")


def reply_token_secret(settings: Settings) -> str:
    """The key of the reply tokens: RF_REPLY_TOKEN_SECRET (or RF_SECRET_KEY), else the instance folder's secret_key
    (the one the web's sessions use when RF_SECRET_KEY is unset), made once. Every process that sends or receives
    customer mail must read the same key: set RF_REPLY_TOKEN_SECRET when they run on several machines."""
    if settings.reply_token_secret:
        return settings.reply_token_secret
    path = settings.instance_dir / "secret_key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
