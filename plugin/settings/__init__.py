"""Load and validate the TOML configuration and its CANVAS_LADOK_* environment overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from plugin.rules.course_config import (
    AF_GRADES,
    DEFAULT_MOMENT_PATTERN,
    CourseConfig,
    ModuleConfig,
    moment_number,
)
from plugin.settings.checks import (
    MAX_BODY_BYTES_LIMIT,
    MAX_DELAY_DAYS,
    check_code,
    check_database_url,
    check_id,
    check_range,
    check_secret_key,
    check_webhook_secret,
    check_writable_folder,
    kind_words,
    wrong_type,
)
from plugin.settings.hints import unknown_key, unknown_variable
from plugin.settings.ladok import (
    LADOK_KEYS,
    LadokSettings,
    build_ladok,
    check_ladok_rounds,
    check_shared_rounds,
)
from plugin.settings.sections import (
    LTI_KEYS,
    MAIL_KEYS,
    LtiSettings,
    MailSettings,
    build_lti,
    build_mail,
    check_addresses,
    check_http_url,
    check_lti_key,
    check_lti_needs,
)
from plugin.store.models import MAX_ID

ENV_PREFIX = "CANVAS_LADOK_"
DEFAULT_CONFIG_PATH = "config/canvas-ladok.toml"
SECRET_ENV = {
    "CANVAS_LADOK_CANVAS_TOKEN": "canvas_token",
    "CANVAS_LADOK_WEBHOOK_SECRET": "webhook_secret",
    "CANVAS_LADOK_WEBHOOK_TOKEN": "webhook_token",
    "CANVAS_LADOK_ADMIN_TOKENS": "admin_tokens",
    "CANVAS_LADOK_SECRET_KEY": "secret_key",
    "CANVAS_LADOK_LTI_PRIVATE_KEY": "lti_private_key",
    "CANVAS_LADOK_SMTP_PASSWORD": "smtp_password",
    "CANVAS_LADOK_LADOK_CERT_PASSWORD": "ladok_cert_password",
}
RESERVED_ENV = {"CANVAS_LADOK_CONFIG", "CANVAS_LADOK_TEST_POSTGRES_URL"}
STUDENT_ID_FIELDS = ("sis_user_id", "integration_id", "login_id")
DEFAULT_DATABASE_URL = "sqlite:///instance/canvas-ladok.db"
DEFAULT_EXPORT_DIR = "instance/exports"
DEFAULT_TIMEZONE = "Europe/Stockholm"


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` lists each as 'file: key: reason'."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str
    sqlite_synchronous: str = "normal"
    export_dir: str = "instance/exports"
    export_schedule: str = "30 3 * * *"
    timezone: str = "Europe/Stockholm"
    student_id_field: str = "sis_user_id"
    max_body_bytes: int = 262144
    canvas_url: str = ""
    canvas_jwks_url: str = ""
    canvas_jwt_issuer: str = ""
    public_url: str = ""
    trusted_proxies: int = 0
    lti: LtiSettings = field(default_factory=LtiSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    ladok: LadokSettings = field(default_factory=LadokSettings)
    courses: tuple[CourseConfig, ...] = ()
    canvas_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    webhook_token: str = field(default="", repr=False)
    admin_tokens: tuple[str, ...] = field(default=(), repr=False)
    secret_key: str = field(default="", repr=False)
    lti_private_key: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)
    ladok_cert_password: str = field(default="", repr=False)
    config_path: str = ""
    # What would work but probably not as meant (no webhook authentication, no pages).
    warnings: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def course(self, canvas_id: int) -> CourseConfig | None:
        """The configured course with this Canvas id, or None."""
        return next((c for c in self.courses if c.canvas_id == canvas_id), None)


def redact(text: str, settings: Settings) -> str:
    """`text` with every configured secret masked."""
    for secret in (settings.canvas_token, settings.webhook_secret, settings.webhook_token,
                   *settings.admin_tokens, settings.smtp_password, settings.secret_key,
                   settings.lti_private_key, settings.ladok_cert_password):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


TOP_SCALARS: dict[str, type] = {
    "database_url": str,
    "sqlite_synchronous": str,
    "export_dir": str,
    "export_schedule": str,
    "timezone": str,
    "student_id_field": str,
    "max_body_bytes": int,
    "public_url": str,
    "trusted_proxies": int,
}
CANVAS_KEYS: dict[str, type] = {"url": str, "jwks_url": str, "jwt_issuer": str}
COURSE_KEYS = {
    "canvas_id", "ladok_code", "start", "timezone", "pass_grades", "pass_percent",
    "grade_thresholds", "final_grade_delay_days", "moment_pattern", "assignments", "modules",
    "notify", "ladok_rounds",
}
MODULE_KEYS = {"code", "name", "credits", "scale", "moments", "grade_from", "final"}
# Every table of the file and its keys ("" is the top level): unknown keys are compared
# with all of them. A new table of settings adds its line here.
TABLES: dict[str, set[str]] = {
    "canvas": set(CANVAS_KEYS), "lti": set(LTI_KEYS), "mail": set(MAIL_KEYS),
    "ladok": set(LADOK_KEYS), "courses": COURSE_KEYS, "courses.modules": MODULE_KEYS,
}
TABLES[""] = set(TOP_SCALARS) | {t for t in TABLES if "." not in t}
# The tables whose keys CANVAS_LADOK_<TABLE>_<KEY> overrides, with each key's type.
ENV_TABLES: dict[str, dict[str, type]] = {"": TOP_SCALARS, "canvas": CANVAS_KEYS}


def env_overrides() -> dict[str, tuple[str, str, type]]:
    """Each overriding variable's (table, key, type)."""
    return {ENV_PREFIX + (f"{table}_{key}" if table else key).upper(): (table, key, kind)
            for table, keys in ENV_TABLES.items() for key, kind in keys.items()}


class _Problems:
    """Collects problems and warnings, each prefixed with the file name; each said once."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []
        self.warnings: list[str] = []

    def add(self, key: str, reason: str) -> None:
        line = f"{self.source}: {key}: {reason}"
        if line not in self.items:
            self.items.append(line)

    def unknown(self, key: str) -> None:
        """An unknown key, with where it belongs or what it misspells."""
        self.add(key, unknown_key(key, TABLES, SECRET_ENV))

    def warn(self, key: str, reason: str) -> None:
        self.warnings.append(f"{self.source}: {key}: {reason}")


def load_settings(
    path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the config file and environment into validated Settings, or raise ConfigError."""
    env = os.environ if environ is None else environ
    cfg_path = Path(path or env.get("CANVAS_LADOK_CONFIG") or DEFAULT_CONFIG_PATH)
    problems = _Problems(str(cfg_path))
    raw = _read_toml(cfg_path, problems)
    raw.update(overrides or {})
    values, from_env = _overlay_env(raw, env, problems)
    secrets = {attr: env.get(name, "") for name, attr in SECRET_ENV.items()}
    settings = _build(values, from_env, secrets, cfg_path.parent, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return dataclasses.replace(settings, warnings=tuple(problems.warnings))


def _read_toml(path: Path, problems: _Problems) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.add("(file)", "not found")
    except tomllib.TOMLDecodeError as exc:
        problems.add("(file)", f"not valid TOML: {exc}")
    except OSError as exc:
        problems.add("(file)", f"cannot be read: {exc.strerror}")
    return {}


def _parse_env_value(text: str, kind: type) -> Any:
    if kind is int:
        return int(text.strip())
    return text


def _overlay_env(
    raw: dict[str, Any], env: Mapping[str, str], problems: _Problems
) -> tuple[dict[str, Any], set[str]]:
    """The file's values with environment overrides, and the names of overridden top keys."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    targets = env_overrides()
    from_env: set[str] = set()
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or name in SECRET_ENV:
            continue
        if name not in targets:
            known = [*targets, *SECRET_ENV, *RESERVED_ENV]
            problems.add(name, unknown_variable(name, known, TABLES))
            continue
        table, key, kind = targets[name]
        try:
            value = _parse_env_value(text, kind)
        except ValueError:
            problems.add(name, f"must be {kind_words(kind)}, got {text!r}")
            continue
        if not table:
            values[key] = value
            from_env.add(key)
        elif isinstance(values.setdefault(table, {}), dict):  # else the table's error stands
            values[table][key] = value
    return values, from_env


def _check_type(problems: _Problems, key: str, value: Any, kind: type | tuple) -> bool:
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind == (int, float) and isinstance(value, bool):
        ok = False
    if not ok:
        wrong_type(problems, key, value, kind)
    return ok


def _build(values: dict[str, Any], from_env: set[str], secrets: dict[str, str], base: Path,
           problems: _Problems) -> Settings:
    for key in values:
        if key not in TABLES[""]:
            problems.unknown(key)
    top: dict[str, Any] = {}
    for key, kind in TOP_SCALARS.items():
        if key in values and _check_type(problems, key, values[key], kind):
            top[key] = values[key]
    _check_top_values(top, problems)
    database_url, export_dir = _paths(top, from_env, base, problems)
    check_webhook_secret(problems, secrets["webhook_secret"])
    check_secret_key(problems, secrets["secret_key"])
    canvas = _build_canvas(values.get("canvas", {}), problems)
    default_tz = top.get("timezone", DEFAULT_TIMEZONE)
    courses = _build_courses(values.get("courses", []), default_tz, problems)
    tokens = tuple(t.strip() for t in secrets["admin_tokens"].split(",") if t.strip())
    public_url = check_http_url(problems, "public_url", top.get("public_url", ""))
    lti = build_lti(values.get("lti", {}), problems)
    check_lti_needs(problems, lti, public_url, secrets["lti_private_key"], secrets["secret_key"])
    if secrets["lti_private_key"]:
        check_lti_key(problems, secrets["lti_private_key"])
    _warn_unreachable(problems, canvas, secrets)
    return Settings(
        database_url=database_url,
        sqlite_synchronous=top.get("sqlite_synchronous", "normal"),
        export_dir=export_dir,
        export_schedule=top.get("export_schedule", "30 3 * * *"),
        timezone=default_tz,
        student_id_field=top.get("student_id_field", "sis_user_id"),
        max_body_bytes=top.get("max_body_bytes", 262144),
        canvas_url=canvas.get("url", ""),
        canvas_jwks_url=canvas.get("jwks_url", ""),
        canvas_jwt_issuer=canvas.get("jwt_issuer", ""),
        public_url=public_url,
        trusted_proxies=top.get("trusted_proxies", 0),
        lti=lti,
        mail=build_mail(values.get("mail", {}), problems),
        ladok=build_ladok(values.get("ladok", {}), base, secrets["ladok_cert_password"],
                          problems),
        courses=courses,
        canvas_token=secrets["canvas_token"],
        webhook_secret=secrets["webhook_secret"],
        webhook_token=secrets["webhook_token"],
        admin_tokens=tokens,
        secret_key=secrets["secret_key"],
        lti_private_key=secrets["lti_private_key"],
        smtp_password=secrets["smtp_password"],
        ladok_cert_password=secrets["ladok_cert_password"],
        config_path=problems.source,
    )


def _paths(top: dict[str, Any], from_env: set[str], base: Path,
           problems: _Problems) -> tuple[str, str]:
    """The database URL and the export folder, resolved (a relative path written in the file
    against its folder, defaults and the environment's against the working directory), and
    their folders checked to take files."""
    def where(key: str) -> Path:
        return base if key in top and key not in from_env else Path.cwd()

    database_url = _resolve_sqlite_url(top.get("database_url") or DEFAULT_DATABASE_URL,
                                       where("database_url"))
    if check_database_url(problems, database_url) and database_url.startswith("sqlite"):
        from plugin.store.db import sqlite_path

        sqlite_file = sqlite_path(database_url) if "///" in database_url else None
        if sqlite_file:
            check_writable_folder(problems, "database_url", Path(sqlite_file).parent)
    export_dir = (where("export_dir") / top.get("export_dir", DEFAULT_EXPORT_DIR)).resolve()
    check_writable_folder(problems, "export_dir", export_dir)
    return database_url, str(export_dir)


def _warn_unreachable(problems: _Problems, canvas: dict[str, str], secrets: dict[str, str]
                      ) -> None:
    """Warn of a service that would refuse every webhook delivery or serve no pages."""
    if not (canvas.get("jwks_url") or secrets["webhook_secret"] or secrets["webhook_token"]):
        problems.warn("(webhook)", "no way to authenticate Canvas's deliveries is configured, "
                      "so every one is refused (401): set canvas.jwks_url, "
                      "CANVAS_LADOK_WEBHOOK_TOKEN or CANVAS_LADOK_WEBHOOK_SECRET "
                      "(docs/canvas-setup.md)")
    if not secrets["secret_key"]:
        problems.warn("CANVAS_LADOK_SECRET_KEY", "not set, so the pages answer 503 (the webhook "
                      "and the JSON API work): set it to 32 or more random characters, e.g. "
                      "python3 -c 'import secrets; print(secrets.token_hex(32))'")


def _resolve_sqlite_url(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or url.startswith(prefix + "/"):
        return url
    rest = url[len(prefix):]
    if rest.startswith(":memory:"):
        return url
    return prefix + str((base / rest).resolve())


def _check_top_values(top: dict[str, Any], problems: _Problems) -> None:
    if top.get("sqlite_synchronous", "normal") not in ("normal", "full"):
        problems.add("sqlite_synchronous", 'must be "normal" or "full"')
    if top.get("student_id_field", "sis_user_id") not in STUDENT_ID_FIELDS:
        problems.add("student_id_field", f"must be one of {', '.join(STUDENT_ID_FIELDS)}")
    if "max_body_bytes" in top and not 0 < top["max_body_bytes"] <= MAX_BODY_BYTES_LIMIT:
        problems.add("max_body_bytes", f"must be between 1 and {MAX_BODY_BYTES_LIMIT}, got "
                     f"{top['max_body_bytes']}")
    if not 0 <= top.get("trusted_proxies", 0) <= 10:
        problems.add("trusted_proxies", "must be between 0 and 10")
    if "timezone" in top:
        _check_timezone(problems, "timezone", top["timezone"])
    if "export_schedule" in top:
        zone = top.get("timezone", DEFAULT_TIMEZONE)
        check_cron(problems, "export_schedule", top["export_schedule"],
                   zone if _known_zone(zone) else "UTC")


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def _check_timezone(problems: _Problems, key: str, name: str) -> bool:
    if not _known_zone(name):
        problems.add(key, f"unknown time zone {name!r}")
        return False
    return True


def check_cron(problems: _Problems, key: str, expr: str, timezone: str = "UTC") -> None:
    """Accept a five-field cron expression (0 and 7 are Sunday) that fires every year."""
    if len(expr.split()) != 5:
        problems.add(key, f"must be a cron expression of 5 fields, got {expr!r}")
        return
    try:
        trigger = cron_trigger(expr, timezone)
    except ValueError as exc:
        problems.add(key, f"invalid cron expression {expr!r}: {exc}")
        return
    now = dt.datetime.now(ZoneInfo(timezone))
    silent = silent_year(trigger, now.year)
    if silent is not None:
        never = trigger.get_next_fire_time(None, now) is None
        problems.add(key, f"{expr!r} must fire at least once a year; it "
                     f"{'never fires' if never else f'does not fire in {silent}'}")


# Leap years and weekdays repeat every 28 years (within a century): a schedule that fires in
# each of 28 years in a row fires every year.
CRON_YEARS = 28


def silent_year(trigger: CronTrigger, first: int) -> int | None:
    """The first year from `first` in which `trigger` never fires, or None."""
    for year in range(first, first + CRON_YEARS):
        start = dt.datetime(year, 1, 1, tzinfo=trigger.timezone)
        fire = trigger.get_next_fire_time(None, start)
        if fire is None or fire.year != year:
            return year
    return None


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """An APScheduler trigger for a standard crontab line, where weekday 0 and 7 mean Sunday."""
    minute, hour, day, month, dow = expr.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month,
        day_of_week=_crontab_weekdays(dow), timezone=ZoneInfo(timezone),
    )


def _crontab_weekdays(text: str) -> str:
    # crontab counts Sunday as 0 or 7 and APScheduler 3 counts Monday as 0: use day names.
    out = []
    for part in text.split(","):
        span, _, step = part.partition("/")
        step = f"/{step}" if step else ""
        if "-" not in span:
            out.append(_day_name(span) + step)
            continue
        low, high = span.split("-", 1)
        if low == "0":
            out.append("sun")
            low = "1"
        if high == "7":
            out.append("sun")
            high = "6"
        out.append(f"{_day_name(low)}-{_day_name(high)}{step}")
    return ",".join(out)


def _day_name(token: str) -> str:
    names = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return names[int(token)] if token.isdigit() and int(token) <= 7 else token


def _build_canvas(raw: Any, problems: _Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add("canvas", "must be a table")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key not in CANVAS_KEYS:
            problems.unknown(f"canvas.{key}")
        elif _check_type(problems, f"canvas.{key}", value, str):
            out[key] = value
    for key in ("url", "jwks_url"):  # addresses this service asks; the issuer is a name
        out[key] = check_http_url(problems, f"canvas.{key}", out.get(key, ""))
    return out


def _build_courses(raw: Any, default_tz: str, problems: _Problems) -> tuple[CourseConfig, ...]:
    if not isinstance(raw, list):
        problems.add("courses", "must be an array of tables ([[courses]])")
        return ()
    seen: set[int] = set()
    built: list[tuple[int, CourseConfig]] = []
    for index, item in enumerate(raw):
        prefix = f"courses[{index}]"
        if not isinstance(item, dict):
            problems.add(prefix, "must be a table")
            continue
        canvas_id = item.get("canvas_id")
        if isinstance(canvas_id, int) and not isinstance(canvas_id, bool):
            if canvas_id in seen:  # said even when the course has other problems too
                problems.add(f"{prefix}.canvas_id", f"duplicate canvas_id {canvas_id}")
            seen.add(canvas_id)
        course = _build_course(item, prefix, default_tz, problems)
        if course is not None:
            built.append((index, course))
    check_shared_rounds(built, problems)
    return with_rooms([course for _, course in built])


def with_rooms(courses: list[CourseConfig]) -> tuple[CourseConfig, ...]:
    """Each course told which configured courses share its ladok_code (they decide retakes)."""
    rooms: dict[str, list[int]] = {}
    for course in courses:
        rooms.setdefault(course.ladok_code, []).append(course.canvas_id)
    return tuple(dataclasses.replace(c, rooms=tuple(sorted(rooms[c.ladok_code])))
                 for c in courses)


def _build_course(
    item: dict, prefix: str, default_tz: str, problems: _Problems
) -> CourseConfig | None:
    """The course, or None when it has a problem (every one of them reported)."""
    before = len(problems.items)
    for key in item:
        if key not in COURSE_KEYS:
            problems.unknown(f"{prefix}.{key}")
    for key in ("canvas_id", "ladok_code", "start"):
        if key not in item:
            problems.add(f"{prefix}.{key}", "required")
    kw: dict[str, Any] = {}
    _course_scalars(item, prefix, kw, default_tz, problems)
    pattern = _course_pattern(item, kw, prefix, problems)
    if "assignments" in item:
        kw["assignments"] = _course_assignments(item["assignments"], prefix, pattern, problems)
    modules = _course_modules(item.get("modules"), prefix, pattern, problems)
    if len(problems.items) > before:
        return None
    return CourseConfig(**kw, modules=tuple(ModuleConfig(**m) for m in modules))


def _course_scalars(
    item: dict, prefix: str, kw: dict, default_tz: str, problems: _Problems
) -> None:
    checks: list[tuple[str, Any]] = [
        ("canvas_id", int), ("ladok_code", str), ("start", dt.date), ("timezone", str),
        ("pass_percent", (int, float)), ("final_grade_delay_days", int), ("moment_pattern", str),
    ]
    for key, kind in checks:
        if key in item and _check_type(problems, f"{prefix}.{key}", item[key], kind):
            kw[key] = item[key]
    if "canvas_id" in kw:
        check_id(problems, f"{prefix}.canvas_id", kw["canvas_id"])
    check_code(problems, f"{prefix}.ladok_code", kw.get("ladok_code"))
    check_range(problems, f"{prefix}.pass_percent", kw.get("pass_percent"), 0, 100)
    check_range(problems, f"{prefix}.final_grade_delay_days", kw.get("final_grade_delay_days"),
                0, MAX_DELAY_DAYS)
    if isinstance(kw.get("start"), dt.datetime):
        problems.add(f"{prefix}.start", "must be a date, not a date-time")
    if "ladok_code" in kw and not kw["ladok_code"].strip():
        problems.add(f"{prefix}.ladok_code", "must not be empty")
    kw["timezone"] = kw.get("timezone", default_tz)
    if "timezone" in item:
        _check_timezone(problems, f"{prefix}.timezone", kw["timezone"])
    if "pass_percent" in kw:
        kw["pass_percent"] = float(kw["pass_percent"])
    _course_lists(item, prefix, kw, problems)
    if "notify" in item:
        kw["notify"] = check_addresses(problems, f"{prefix}.notify", item["notify"])
    if "ladok_rounds" in item:
        kw["ladok_rounds"] = check_ladok_rounds(problems, f"{prefix}.ladok_rounds",
                                                item["ladok_rounds"])


def _course_pattern(item: dict, kw: dict, prefix: str, problems: _Problems) -> str | None:
    """The course's moment pattern; None when it is unusable, and moments are then compared
    as written (a broken pattern is one problem, not one per moment)."""
    if "moment_pattern" not in item:
        return DEFAULT_MOMENT_PATTERN
    if "moment_pattern" not in kw:  # not a string: its type error is said
        return None
    key, pattern = f"{prefix}.moment_pattern", kw["moment_pattern"]
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        problems.add(key, f"not a valid regular expression: {exc}")
        return None
    if groups < 1:
        problems.add(key, "must have one capturing group")
        return None
    return pattern


def _course_lists(item: dict, prefix: str, kw: dict, problems: _Problems) -> None:
    if "pass_grades" in item:
        grades = item["pass_grades"]
        if not isinstance(grades, list) or not all(isinstance(g, str) for g in grades):
            problems.add(f"{prefix}.pass_grades", "must be a list of strings")
        else:
            kw["pass_grades"] = tuple(grades)
    if "grade_thresholds" in item:
        table = item["grade_thresholds"]
        if not isinstance(table, dict):
            problems.add(f"{prefix}.grade_thresholds", "must be a table grade -> percent")
            return
        out = {}
        for grade, percent in table.items():
            key = f"{prefix}.grade_thresholds.{grade}"
            if grade.upper() not in AF_GRADES[:-1]:
                problems.add(key, "must be one of A, B, C, D, E, FX")
            elif _check_type(problems, key, percent, (int, float)):
                check_range(problems, key, percent, 0, 100)
                out[grade.upper()] = float(percent)
        kw["grade_thresholds"] = out


Moment = int | str  # a moment's number, or its name as written while the pattern is unusable


def _identity(value: Any, pattern: str | None) -> Moment | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    return value if pattern is None else moment_number(pattern, value)


def _moment(value: Any, key: str, pattern: str | None, problems: _Problems) -> Moment | None:
    moment = _identity(value, pattern)
    if moment is None and (pattern is not None or not isinstance(value, str)):
        problems.add(key, f"{value!r} is not a moment matching the course moment_pattern")
    return moment


def _course_assignments(raw: Any, prefix: str, pattern: str | None,
                        problems: _Problems) -> dict:
    if not isinstance(raw, dict):
        problems.add(f"{prefix}.assignments", 'must be a table "assignment id" = "moment"')
        return {}
    out = {}
    for key, value in raw.items():
        full = f"{prefix}.assignments.{key}"
        if not str(key).isdigit():
            problems.add(full, "the key must be a Canvas assignment id")
            continue
        if len(key) > len(str(MAX_ID)):  # not even parsed: it could be any length
            problems.add(full, "the key is out of range for a Canvas id")
            continue
        if not check_id(problems, full, int(key)):
            continue
        moment = _moment(value, full, pattern, problems)
        if moment is not None:
            out[int(key)] = moment
    return out


def _course_modules(raw: Any, prefix: str, pattern: str | None,
                    problems: _Problems) -> list[dict[str, Any]]:
    """Each module's values as read; the rules between modules are checked on all of them,
    also on modules with problems of their own."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(f"{prefix}.modules", "must be an array of tables ([[courses.modules]])")
        return []
    modules = []
    for index, item in enumerate(raw):
        module = _build_module(item, f"{prefix}.modules[{index}]", pattern, problems)
        if module is not None:
            modules.append(module)
    _check_module_set(modules, prefix, problems, _written_moments(raw, pattern))
    return modules


def _written_moments(raw: list, pattern: str | None) -> dict[Moment, Any]:
    """Each moment as the file first names it (`"kmom01"`), for messages."""
    written: dict[Moment, Any] = {}
    for item in raw:
        names = item.get("moments") if isinstance(item, dict) else None
        for name in names if isinstance(names, list) else []:
            written.setdefault(_identity(name, pattern), name)
    return written


def _build_module(item: Any, key: str, pattern: str | None,
                  problems: _Problems) -> dict[str, Any] | None:
    """The module's values as read (a value with a problem left out; `final` None then)."""
    if not isinstance(item, dict):
        problems.add(key, "must be a table")
        return None
    for name in item:
        if name not in MODULE_KEYS:
            problems.unknown(f"{key}.{name}")
    kinds = {"code": str, "name": str, "credits": (int, float), "scale": str, "final": bool}
    kw: dict[str, Any] = {"name": "", "final": False if "final" not in item else None}
    for name, kind in kinds.items():
        if name in item and _check_type(problems, f"{key}.{name}", item[name], kind):
            kw[name] = item[name]
    for name in ("code", "credits", "scale", "moments"):
        if name not in item:
            problems.add(f"{key}.{name}", "required")
    check_code(problems, f"{key}.code", kw.get("code"))
    check_range(problems, f"{key}.credits", kw.get("credits"), 0, 1000)
    if "scale" in kw and kw["scale"] not in ("GU", "AF"):
        problems.add(f"{key}.scale", 'must be "GU" or "AF"')
    moments = item.get("moments")
    if "moments" in item and (not isinstance(moments, list) or not moments):
        problems.add(f"{key}.moments", "must be a non-empty list of moments")
        moments = []
    read = (_moment(m, f"{key}.moments", pattern, problems) for m in moments or [])
    kw["moments"] = tuple(m for m in read if m is not None)
    _module_grade_from(item, key, kw, pattern, problems)
    if "credits" in kw:
        kw["credits"] = float(kw["credits"])
    return kw


def _module_grade_from(item: dict, key: str, kw: dict, pattern: str | None,
                       problems: _Problems) -> None:
    raw = item.get("grade_from")
    if kw.get("scale") == "AF" and raw is None:
        problems.add(f"{key}.grade_from", "required on an AF module")
    if kw.get("scale") == "GU" and raw is not None:
        problems.add(f"{key}.grade_from", "only allowed on an AF module")
    if raw is None:
        return
    values = raw if isinstance(raw, list) else [raw]
    kw["grade_from_is_list"] = isinstance(raw, list)
    grade_from = tuple(_moment(m, f"{key}.grade_from", pattern, problems) for m in values)
    if not grade_from:
        problems.add(f"{key}.grade_from", "must name at least one moment")
    for moment, written in zip(grade_from, values, strict=True):
        if moment is not None and moment not in kw["moments"]:
            problems.add(f"{key}.grade_from", f"{written!r} is not one of the module's moments")
    kw["grade_from"] = grade_from


def _check_module_set(modules: list[dict[str, Any]], prefix: str, problems: _Problems,
                      written: dict[Moment, Any]) -> None:
    codes: set[str] = set()
    owner: dict[Moment, str] = {}
    for module in modules:
        code = module.get("code")
        if code in codes:
            problems.add(f"{prefix}.modules", f"duplicate module code {code!r}")
        if code is None:
            continue  # its own problem is said; it cannot be named here
        codes.add(code)
        for moment in module["moments"]:
            if moment in owner and owner[moment] != code:
                problems.add(
                    f"{prefix}.modules",
                    f"{written.get(moment, moment)!r} belongs to both {owner[moment]!r} and "
                    f"{code!r}",
                )
            owner[moment] = code
    if any(m["final"] is None for m in modules):
        return  # a `final` that is not a boolean: how many are final is unknown
    finals = [m for m in modules if m["final"]]
    if len(finals) > 1:
        problems.add(f"{prefix}.modules", "at most one module may be final")
    if any(m.get("scale") == "AF" for m in modules) and len(finals) != 1:
        problems.add(f"{prefix}.modules", "a course with an AF module marks exactly one final")
