"""Human-readable alert text shared by the chat formats: titles, facts and digest lines."""

from __future__ import annotations

from liaowang.events import get_field
from pipelines.webhooks.base import Event, Message

SEVERITY_NAMES = {1: "low", 2: "medium", 3: "high", 4: "critical"}
DIGEST_LINES = 20   # alerts listed by name in a digest; the rest are counted


def severity(alert: Event) -> int:
    value = get_field(alert, "event.severity")
    return value if isinstance(value, int) else 1


def severity_name(alert: Event) -> str:
    return SEVERITY_NAMES.get(severity(alert), str(severity(alert)))


def rule_name(alert: Event) -> str:
    return str(get_field(alert, "rule.name") or get_field(alert, "rule.id") or "alert")


def title(message: Message) -> str:
    """``[critical] S7comm PLC stop request``, or for a digest ``12 alerts (highest: high)``."""
    if message.is_digest:
        highest = max(message.alerts, key=severity)
        return f"{len(message.alerts)} Liaowang alerts (highest: {severity_name(highest)})"
    alert = message.alerts[0]
    return f"[{severity_name(alert)}] {rule_name(alert)}"


def endpoints(alert: Event) -> str:
    source = _endpoint(alert, "source")
    destination = _endpoint(alert, "destination")
    return f"{source} → {destination}" if source or destination else ""


def _endpoint(alert: Event, side: str) -> str:
    ip, port = get_field(alert, f"{side}.ip"), get_field(alert, f"{side}.port")
    if ip is None:
        return ""
    host = f"[{ip}]" if ":" in str(ip) and port is not None else str(ip)
    return f"{host}:{port}" if port is not None else host


def facts(alert: Event) -> list[tuple[str, str]]:
    """Label and value of what an analyst reads first; absent fields are left out."""
    techniques = get_field(alert, "threat.technique.id") or []
    frame = get_field(alert, "pcap.frame")
    found = [
        ("Severity", f"{severity_name(alert)} ({severity(alert)}), "
                     f"risk {get_field(alert, 'event.risk_score') or 0:g}"),
        ("Rule", f"{rule_name(alert)} ({get_field(alert, 'rule.id')})"),
        ("Flow", " ".join(filter(None, [endpoints(alert),
                                        f"({get_field(alert, 'event.dataset')})"]))),
        ("Time", str(get_field(alert, "@timestamp") or "")),
        ("Sensor", str(get_field(alert, "observer.name") or "")),
        ("Techniques", ", ".join(map(str, techniques))),
        ("Capture", f"{get_field(alert, 'pcap.file')} frame {frame}" if frame else ""),
        ("Alert id", str(get_field(alert, "event.id") or "")),
    ]
    return [(label, value) for label, value in found if value]


def digest_lines(message: Message, max_bytes: int = 1 << 20, bullet: str = "") -> list[str]:
    """One line per alert of a digest, most severe first, as many as fit in ``max_bytes`` of
    UTF-8 (and at most ``DIGEST_LINES``), then ``… and N more``."""
    ordered = sorted(message.alerts, key=severity, reverse=True)
    lines = [bullet + " ".join(filter(None, [f"[{severity_name(a)}]", rule_name(a),
                                             endpoints(a), str(a.get("@timestamp", ""))]))
             for a in ordered]
    shown = min(len(lines), DIGEST_LINES)
    while shown and _size([*lines[:shown], _more(len(lines) - shown, bullet)]) > max_bytes:
        shown -= 1
    return lines[:shown] + ([_more(len(lines) - shown, bullet)] if shown < len(lines) else [])


def _more(count: int, bullet: str) -> str:
    return f"{bullet}… and {count} more"


def _size(lines: list[str]) -> int:
    return len("\n".join(lines).encode())


def markdown(message: Message, bullet: str = "- ", max_bytes: int = 1 << 20) -> list[str]:
    """Markdown lines of a message: the facts of one alert, or a digest's alert lines, in at
    most ``max_bytes``."""
    if message.is_digest:
        return digest_lines(message, max_bytes, bullet)
    return [f"**{label}**: {value}" for label, value in facts(message.alerts[0])]


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character.

    >>> truncate_utf8("瞭望 ok", 4)
    '瞭'
    """
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode(errors="ignore")
