"""Configuration: one YAML file, validated on load.

Every section has defaults, so no file at all is a valid configuration. A wrong key or a wrong
type is refused with :class:`ConfigError`, which names the file, the line, the key and the reason.

>>> load_config(None).store.url
'sqlite:var/liaowang/events.db'
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """A configuration file that cannot be used; ``str()`` is ``file:line: key: reason``."""

    def __init__(self, path: str, line: int | None, key: str, reason: str) -> None:
        self.path, self.line, self.key, self.reason = path, line, key, reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[float, Field(gt=0)]


class StoreSettings(Section):
    """``url``: ``sqlite:PATH`` or ``http(s)://[user:password@]host:port`` (Elasticsearch), with
    ``ca_file`` and ``verify`` for TLS."""

    url: str = "sqlite:var/liaowang/events.db"
    ca_file: str | None = None
    verify: bool = True


class FlowSettings(Section):
    idle_timeout: Seconds = 60.0
    active_timeout: Seconds = 1800.0
    max_flows: Annotated[int, Field(ge=1)] = 1_000_000


class LiveSettings(Section):
    """Live capture (``liaowang sensor``): the ring per interface and the metrics endpoint."""

    ring_mb: Annotated[int, Field(ge=1, le=4096)] = 64
    block_timeout_ms: Annotated[int, Field(ge=1, le=10_000)] = 100
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: no metrics endpoint


class SensorSettings(Section):
    name: str = Field(default_factory=socket.gethostname)
    flows: FlowSettings = FlowSettings()
    live: LiveSettings = LiveSettings()
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 65536


class ConsoleSettings(Section):
    """The web console: where it listens, and its accounts. ``accounts_db`` is the SQLite file of
    users, sessions, API tokens and the audit log (apart from the event store);
    ``session_ttl_s`` is how long a login lasts; ``login_max_failures`` failed logins per username
    and source within ``login_window_s`` lock that pair out until the window has passed;
    ``stream_poll_s`` is how often live alert streams look for new alerts."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    accounts_db: str = "var/liaowang/console.db"
    session_ttl_s: Seconds = 12 * 3600.0
    login_max_failures: Annotated[int, Field(ge=1)] = 5
    login_window_s: Seconds = 300.0
    stream_poll_s: Annotated[float, Field(gt=0, le=60)] = 1.0


class PrivacySettings(Section):
    """Subscriber identifiers (IMSI, SUPI, SUCI, MSISDN, IMEI/PEI) before any sink.

    ``pseudonymise`` (the default) replaces each with a keyed hash, stable across sensors that
    share the key; ``clear`` keeps them, where the operator is allowed to. The key is ``key`` or
    the content of ``key_file``, created with a random key on first use when neither exists.
    """

    subscriber_ids: Literal["pseudonymise", "clear"] = "pseudonymise"
    key: SecretStr | None = None
    key_file: str = "var/liaowang/pseudonym.key"


class SpoolSettings(Section):
    """The disk spool in front of the store: ``path`` is its folder (one folder per store URL
    is made in it), ``max_mb`` its bound on disk, ``segment_mb`` the size of one segment file."""

    path: str = "var/liaowang/spool"
    max_mb: Annotated[int, Field(ge=1)] = 1024
    segment_mb: Annotated[int, Field(ge=1)] = 64


class PipelineSettings(Section):
    spool: SpoolSettings = SpoolSettings()


class RuleTuning(Section):
    """One rule's tuning: ``disabled`` silences its own alerts, ``severity`` (1-4) overrides its
    level, ``suppress_s`` drops its repeats for the same key within that many seconds."""

    disabled: bool = False
    severity: Annotated[int, Field(ge=1, le=4)] | None = None
    suppress_s: Annotated[float, Field(ge=0)] | None = None


class DetectionSettings(Section):
    """Signature rules: ``rules_path`` (default: the shipped pack) and per-rule tuning under
    ``rules``, keyed by rule id or title."""

    rules_path: str | None = None
    rules: dict[str, RuleTuning] = Field(default_factory=dict)


WebhookFormat = Literal["generic", "slack", "dingtalk", "wecom", "feishu", "template"]


class WebhookSettings(Section):
    """One target for alerts: ``url`` and the ``format`` of its messages, ``secret`` (the HMAC
    key of ``generic`` and ``template``, the robot's signing secret for ``dingtalk`` and
    ``feishu``), ``template`` (Jinja2 text, for ``template``), extra ``headers``; filters on
    ``min_severity`` (1-4), ``rules`` (rule ids, names or tags) and ``datasets``; delivery:
    retries from ``retry_first_s`` doubling up to ``retry_max_s`` until an alert is
    ``max_age_s`` old (then it is dead-lettered), at most ``rate_per_min`` messages a minute
    (a burst beyond that becomes one digest message)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")]
    format: WebhookFormat = "generic"
    secret: SecretStr | None = None
    template: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    min_severity: Annotated[int, Field(ge=1, le=4)] = 1
    rules: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    max_age_s: Seconds = 86_400.0
    rate_per_min: Annotated[int, Field(ge=1)] = 20
    timeout_s: Seconds = 10.0
    retry_first_s: Seconds = 1.0
    retry_max_s: Seconds = 300.0

    @field_validator("template")
    @classmethod
    def _template_compiles(cls, text: str | None) -> str | None:
        if text is not None:
            from jinja2 import TemplateSyntaxError
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            try:
                ImmutableSandboxedEnvironment().parse(text)
            except TemplateSyntaxError as exc:
                raise ValueError(f"template line {exc.lineno}: {exc.message}") from exc
        return text

    @model_validator(mode="after")
    def _template_for_its_format(self) -> WebhookSettings:
        if (self.format == "template") != (self.template is not None):
            raise ValueError("'template' is required with format template, and only there")
        return self


def _unique_names(webhooks: tuple[WebhookSettings, ...]) -> tuple[WebhookSettings, ...]:
    names = [webhook.name for webhook in webhooks]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"webhook names must be unique: {', '.join(repeated)}")
    return webhooks


class Settings(Section):
    store: StoreSettings = StoreSettings()
    sensor: SensorSettings = SensorSettings()
    console: ConsoleSettings = ConsoleSettings()
    privacy: PrivacySettings = PrivacySettings()
    detection: DetectionSettings = DetectionSettings()
    pipelines: PipelineSettings = PipelineSettings()
    webhooks: Annotated[tuple[WebhookSettings, ...], AfterValidator(_unique_names)] = ()


def load_config(path: str | Path | None) -> Settings:
    """Read and validate a configuration file; ``None`` gives the defaults."""
    if path is None:
        return Settings()
    name = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(name, None, "", exc.strerror or str(exc)) from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(name, mark.line + 1 if mark else None, "", reason) from exc
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise ConfigError(name, 1, "", "the configuration must be a mapping of sections")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _located(name, root, exc.errors()[0]) from exc


def _located(path: str, root: yaml.Node | None, error: Any) -> ConfigError:
    loc = [str(part) for part in error["loc"]]
    reason = error["msg"]
    if error["type"] == "extra_forbidden":
        reason = "unknown key"
    return ConfigError(path, _line_of(root, loc), ".".join(loc), reason)


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """1-based line of the deepest YAML node on the path ``loc``."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                break
            key, node = match[0]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line
