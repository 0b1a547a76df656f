"""Configuration: one YAML file, validated on load.

Every section has defaults, so no file at all is a valid configuration. A wrong key or a wrong
type is refused with :class:`ConfigError`, which names the file, the line, the key and the reason.

>>> load_config(None).store.url
'sqlite:var/liaowang/events.db'
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from liaowang.assets import ZoneKind, criticality_level


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
    ``ca_file`` and ``verify`` for TLS. ``retention_days``: keep the events of today and of
    that many days before (alerts are kept); the console prunes older days every hour, and
    ``liaowang store prune`` does it at once. None (the default) keeps everything."""

    url: str = "sqlite:var/liaowang/events.db"
    ca_file: str | None = None
    verify: bool = True
    retention_days: Annotated[int, Field(ge=0)] | None = None


class FlowSettings(Section):
    idle_timeout: Seconds = 60.0
    active_timeout: Seconds = 1800.0
    max_flows: Annotated[int, Field(ge=1)] = 1_000_000


class WeirdSettings(Section):
    """Weird events, sampled as Zeek samples its weirds: of each name, the first ``first`` of a
    flow (or, outside flows, of a ``window_s`` of capture time) become events, then one in
    ``then_every``. All are counted (``flow.weird_count``, the ``weirds_unreported`` metric).
    The shipped weird_burst rule counts 20 weirds of a host: fewer than 20 first ones from one
    flow would keep it from raising."""

    first: Annotated[int, Field(ge=0)] = 20
    then_every: Annotated[int, Field(ge=1)] = 1000
    window_s: Seconds = 600.0


class LiveSettings(Section):
    """Live capture (``liaowang sensor``): the ring per interface and the metrics endpoint."""

    # a second of a busy gigabit link: the ring absorbs signalling bursts (a registration storm
    # costs the analyzers more than real time while it lasts), not a sensor slower than its link
    ring_mb: Annotated[int, Field(ge=1, le=4096)] = 128
    block_timeout_ms: Annotated[int, Field(ge=1, le=10_000)] = 100
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: no metrics endpoint


class PacketBufferSettings(Section):
    """The live sensor's rolling packet buffer, from which the console exports an alert's
    packets: pcap segments of ``segment_s`` seconds in ``path``, the oldest deleted beyond
    ``max_mb`` in all."""

    path: str = "var/liaowang/packets"
    max_mb: Annotated[int, Field(ge=1)] = 1024
    segment_s: Annotated[float, Field(ge=1, le=3600)] = 60.0


class ConsoleSinkSettings(Section):
    """Where a sensor ships its events instead of a store: a console's ``POST /api/ingest``
    at ``url``, with an API token of role ``sensor``; ``ca_file``/``verify`` for TLS. Batches
    wait in the sensor's own spool (``pipelines.spool``) until the console has taken them;
    a heartbeat goes every ``heartbeat_s``."""

    type: Literal["console"]
    url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")]
    token: SecretStr
    ca_file: str | None = None
    verify: bool = True
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 2000
    heartbeat_s: Seconds = 10.0
    timeout_s: Seconds = 30.0


AnalyzerName = Literal["sbi", "diameter", "modbus", "dnp3", "ngap", "s7comm", "iec104", "enip",
                       "bacnet", "opcua", "pfcp", "gtpu", "gtpv1", "gtpv2"]
"""The protocol analyzers of ``sensor.analyzers`` (a test keeps the two lists the same)."""


class SensorSettings(Section):
    """``analyzers``: the protocol analyzers to run, by name; None (the default) runs every one,
    ``[]`` meters flows only. Flows, GTP-U tunnels included, are metered either way."""

    name: str = Field(default_factory=socket.gethostname)
    flows: FlowSettings = FlowSettings()
    weirds: WeirdSettings = WeirdSettings()
    live: LiveSettings = LiveSettings()
    analyzers: tuple[AnalyzerName, ...] | None = None
    # frames a replay decodes together: 4,096 leave the analyzers' work of a block in the
    # caches (8 % faster than 65,536 with every analyzer, no slower as a flow meter)
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 4096
    sink: ConsoleSinkSettings | None = None
    packet_buffer: PacketBufferSettings | None = None


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
    sensor_stale_s: Seconds = 60.0   # a sensor silent for longer is shown as stale


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


ExceptionValue = bool | int | float | str


def _exception_values(exception: dict[str, Any]) -> dict[str, Any]:
    """Each field has a value or a non-empty list of values; those of an ``ip`` field are
    addresses or networks, or the exception would never match."""
    checked = {}
    for name, given in exception.items():
        values = tuple(given) if isinstance(given, list) else (given,)
        if not values:
            raise ValueError(f"{name}: an empty list never matches")
        if not all(isinstance(value, ExceptionValue) for value in values):
            raise ValueError(f"{name}: a value or a list of values, not {given!r}")
        if name == "ip" or name.endswith(".ip"):
            _addresses(name, values)
        checked[name] = values if isinstance(given, list) else given
    return checked


def _addresses(name: str, values: tuple[Any, ...]) -> None:
    for value in values:
        try:
            ipaddress.ip_network(str(value), strict=False)
        except ValueError as exc:
            raise ValueError(f"{name}: {value!r} is not an IP address or network") from exc


RuleException = Annotated[dict[Annotated[str, Field(min_length=1)], Any], Field(min_length=1),
                          AfterValidator(_exception_values)]


class RuleTuning(Section):
    """One rule's tuning: ``disabled`` silences its own alerts, ``severity`` (1-4) overrides its
    level, ``suppress_s`` drops its repeats for the same key within that many seconds.
    ``exceptions`` are field filters (``{source.ip: 10.0.0.0/8, modbus.unit_id: [1, 2]}``): an
    alert is dropped when the event that triggered it matches every field of one of them (a
    list: any of its values; an ``ip`` field: an address or a network)."""

    disabled: bool = False
    severity: Annotated[int, Field(ge=1, le=4)] | None = None
    suppress_s: Annotated[float, Field(ge=0)] | None = None
    exceptions: tuple[RuleException, ...] = ()


def _networks_parse(values: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A value written as a network (with ``/``) must be one, or it would silently never match."""
    for value in values:
        if isinstance(value, str) and "/" in value:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IP network: {exc}") from exc
    return values


ListName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ListValues = Annotated[tuple[int | str, ...], Field(min_length=1), AfterValidator(_networks_parse)]


class FusionSettings(Section):
    """How alerts become one stream (``detection/fusion.py``): a repeat of an alert (same rule,
    source and destination) within ``window_s`` seconds of the first is held back; ``repeats``
    says what then becomes of the held ones: ``count`` (one alert with ``alert.repeat_count``
    when the window closes), ``drop`` (nothing), ``keep`` (no de-duplication at all)."""

    window_s: Annotated[float, Field(ge=0)] = 300.0
    repeats: Literal["count", "drop", "keep"] = "count"


class IncidentSettings(Section):
    """How alerts group into incidents (``detection/incidents.py``): alerts sharing an asset
    join an incident active within ``window_s`` seconds (event time); an incident idle for
    longer closes, and beyond ``max_open`` open ones the least recently active closes early."""

    enabled: bool = True
    window_s: Seconds = 1800.0
    max_open: Annotated[int, Field(ge=1)] = 1000


class DetectionSettings(Section):
    """Signature rules: ``rules_path`` (default: the shipped pack) and per-rule tuning under
    ``rules``, keyed by rule id or title; ``overrides_file`` holds the rules switched on or off
    in the console (``detection.sigma.overrides``), which running detectors follow. ``lists``
    are the site's lists that rules use as
    ``field|expand: '%name%'`` (hosts and networks, numbers, names); a rule that needs a list
    not set here is not loaded, and start-up and ``rules lint`` say so."""

    rules_path: str | None = None
    rules: dict[str, RuleTuning] = Field(default_factory=dict)
    overrides_file: str = "var/liaowang/rule-overrides.yml"  # the console's rule switches
    fusion: FusionSettings = FusionSettings()
    incidents: IncidentSettings = IncidentSettings()
    lists: dict[ListName, ListValues] = Field(default_factory=dict)


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


ActionKind = Literal["block", "isolate", "quarantine"]


class ResponsePolicy(Section):
    """Run ``action`` on every alert of ``rules`` (rule ids, names or tags): ``dry_run``
    records what would be done, ``enforce`` also sends it to ``response.automation``."""

    rules: Annotated[tuple[str, ...], Field(min_length=1)]
    action: ActionKind
    mode: Literal["dry_run", "enforce"] = "dry_run"
    target: Literal["source", "destination"] = "source"


class AutomationSettings(Section):
    """Where enforced actions go (a SOAR webhook or the operator's automation): the action
    record as JSON, signed like a generic webhook with ``secret``."""

    url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")]
    secret: SecretStr | None = None
    timeout_s: Seconds = 10.0


class ResponseSettings(Section):
    """Response actions: ``actions_db`` is the SQLite file of action records, ``automation``
    receives enforced actions, ``quarantine_zone`` is the zone quarantined assets move to,
    ``policies`` run actions on alerts automatically."""

    actions_db: str = "var/liaowang/actions.db"
    automation: AutomationSettings | None = None
    quarantine_zone: str = "quarantine"
    policies: tuple[ResponsePolicy, ...] = ()

    @model_validator(mode="after")
    def _enforce_needs_automation(self) -> ResponseSettings:
        if self.automation is None and any(p.mode == "enforce" for p in self.policies):
            raise ValueError("a policy in mode enforce needs response.automation")
        return self


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError(f"not a network address in CIDR notation: {exc}") from exc


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise ValueError(f"not an IP address: {exc}") from exc


Network = Annotated[str, AfterValidator(_network)]
Address = Annotated[str, AfterValidator(_address)]
Criticality = Annotated[int, BeforeValidator(criticality_level)]
Name = Annotated[str, Field(min_length=1, max_length=128)]


class AssetSettings(Section):
    """One asset of ``assets:``: a host (``ip``) or a group of hosts (``cidr``), its ``name``,
    ``zone`` (a name of ``zones:``), ``criticality`` (1-5, or low/medium/high/critical),
    ``role`` (plc, hmi, engineering, gnb, upf, amf, smf, ...) and ``tags``."""

    name: Name
    ip: Address | None = None
    cidr: Network | None = None
    zone: str | None = None
    criticality: Criticality = 3
    role: str | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_address(self) -> AssetSettings:
        if (self.ip is None) == (self.cidr is None):
            raise ValueError("give exactly one of 'ip' and 'cidr'")
        return self

    @property
    def network(self) -> str:
        return self.cidr or str(self.ip)


class ZoneSettings(Section):
    """One zone of ``zones:``: its ``name``, ``cidrs``, ``kind`` (ot, 5gc, ran, it, dmz) and
    ``criticality`` (1-5 or a word; by default the kind's: ot and 5gc 5, ran 4, dmz 3, it 2)."""

    name: Name
    cidrs: Annotated[tuple[Network, ...], Field(min_length=1)]
    kind: ZoneKind = "it"
    criticality: Criticality | None = None


class IntelSettings(Section):
    """Threat-intelligence indicator ``files``: CSV (indicator, type, description, severity)
    or STIX 2.1 bundles (``.json``); ``severity`` (1-4) for indicators that give none."""

    files: tuple[str, ...] = ()
    severity: Annotated[int, Field(ge=1, le=4)] = 3


def _asset_zone_errors(assets: tuple[AssetSettings, ...],
                       zones: tuple[ZoneSettings, ...]) -> list[InitErrorDetails]:
    """An asset's zone must be one of ``zones:``, and zone names must be unique."""
    names = [zone.name for zone in zones]
    errors = [InitErrorDetails(type=PydanticCustomError("zone", "zone name used twice"),
                               loc=("zones", index, "name"), input=name)
              for index, name in enumerate(names) if name in names[:index]]
    for index, asset in enumerate(assets):
        if asset.zone is not None and asset.zone not in names:
            reason = "no zone of this name in 'zones'"
            errors.append(InitErrorDetails(type=PydanticCustomError("zone", reason),
                                           loc=("assets", index, "zone"), input=asset.zone))
    return errors


class Settings(Section):
    store: StoreSettings = StoreSettings()
    sensor: SensorSettings = SensorSettings()
    console: ConsoleSettings = ConsoleSettings()
    privacy: PrivacySettings = PrivacySettings()
    detection: DetectionSettings = DetectionSettings()
    pipelines: PipelineSettings = PipelineSettings()
    webhooks: Annotated[tuple[WebhookSettings, ...], AfterValidator(_unique_names)] = ()
    response: ResponseSettings = ResponseSettings()
    assets: tuple[AssetSettings, ...] = ()
    zones: tuple[ZoneSettings, ...] = ()
    intel: IntelSettings = IntelSettings()

    @model_validator(mode="after")
    def _asset_zones_known(self) -> Settings:
        if errors := _asset_zone_errors(self.assets, self.zones):
            raise ValidationError.from_exception_data("Settings", errors)
        return self


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
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
        data = yaml.load(text, Loader=yaml.CSafeLoader)
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
