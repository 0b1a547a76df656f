"""Text for the terminal and Markdown for the README, from ``bench/run.py``'s results."""

from __future__ import annotations

from collections import Counter
from typing import Any

LABELS = {"liaowang": "Liaowang `replay`", "liaowang-flows": "Liaowang `replay --analyzers none`",
          "dpkt": "dpkt decode loop", "nfstream": "NFStream", "tshark": "tshark -T fields"}
TARGETS = {"nfstream": 3.0, "tshark": 30.0}   # Liaowang ≥ this many times the peer (issue 3)
MEMORY_TARGET_MIB = 1024
PROTOCOLS = {"6": "TCP", "17": "UDP", "132": "SCTP"}
WHY = {"132": " (NFStream keys SCTP by addresses alone, ports 0, so associations between the "
              "same two hosts become one flow)"}
HEADER = ["tool", "packets", "wall s", "start-up s", "CPU s", "packets/s",
          "packets/s after start-up", "packets/CPU s", "Liaowang vs tool",
          "Liaowang vs tool after start-up"]
CONTENTION = 1.1   # wall-clock this much above CPU time is worth a note
Results = dict[str, Any]


def rates(results: Results, after_startup: bool = False) -> dict[str, float | None]:
    """packets/s per tool: the capture's packets over the tool's wall-clock seconds; or, after
    start-up, the packets after the first over the seconds beyond the run on the first alone."""
    total = results["contents"].get("packets")
    found: dict[str, float | None] = {}
    for tool in results["tools"]:
        packets, seconds = total or tool["packets"], tool["seconds"]
        if after_startup:
            startup = tool.get("startup_seconds")
            packets = packets - results.get("startup_packets", 1) if packets else None
            seconds = seconds - startup if seconds and startup is not None else None
        ok = tool["status"] == "ok" and seconds and seconds > 0 and packets
        found[tool["tool"]] = packets / seconds if ok else None
    return found


def ratio(name: str, speeds: dict[str, float | None], mine_as: str = "liaowang") -> str:
    mine, theirs = speeds.get(mine_as), speeds.get(name)
    if name.startswith("liaowang"):
        return "—"
    if not mine or not theirs:
        return "n/a"
    times = mine / theirs
    target = TARGETS.get(name)
    if target is None:
        return f"{times:.2f}×"
    return f"{times:.2f}× (target ≥ {target:g}×: {'met' if times >= target else 'missed'})"


def rows(results: Results) -> list[list[str]]:
    speeds, sustained = rates(results), rates(results, after_startup=True)
    versions = results["machine"]["versions"]
    out = []
    for tool in results["tools"]:
        name = tool["tool"]
        version = versions.get(name, "")
        label = f"{LABELS.get(name, name)} {version}".strip()
        if tool["status"] != "ok":
            out.append([label, tool["status"], *[""] * (len(HEADER) - 3), "n/a"])
            continue
        speed, total = speeds[name], results["contents"].get("packets") or tool["packets"]
        on_cpu = total / tool["cpu_seconds"] if tool["cpu_seconds"] else None
        startup = tool.get("startup_seconds")
        out.append([label, _count(tool["packets"]), f"{tool['seconds']:.2f}",
                    f"{startup:.2f}" if startup is not None else "n/a",
                    f"{tool['cpu_seconds']:.2f}", _rate(speed), _rate(sustained[name]),
                    _rate(on_cpu), ratio(name, speeds), ratio(name, sustained)])
    return out


def table(results: Results) -> str:
    body = rows(results)
    widths = [max(len(row[i]) for row in [HEADER, *body]) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in [HEADER, *body]]
    return "\n".join([machine_line(results), *lines, *flows_only_lines(results),
                      *contention_lines(results), *flow_lines(results), *memory_lines(results)])


def flows_only_lines(results: Results) -> list[str]:
    """The flow meter alone against the peers that do no more than it does."""
    lines = []
    for after_startup, how in ((False, "start-up included"), (True, "after start-up")):
        speeds = rates(results, after_startup)
        if not speeds.get("liaowang-flows"):
            continue
        against = [f"{LABELS[name]} {ratio(name, speeds, 'liaowang-flows')}"
                   for name in ("nfstream", "tshark") if speeds.get(name)]
        lines.append(f"Liaowang's flow meter alone (`--analyzers none`), {how}: vs "
                     f"{'; vs '.join(against)}.")
    return lines


def markdown(results: Results) -> str:
    lines = ["### Performance (`make bench`)", "", capture_line(results), "",
             machine_line(results), "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" + "---:|" * (len(HEADER) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    notes = (flows_only_lines(results) + contention_lines(results) + flow_lines(results)
             + memory_lines(results))
    lines += ["", *(f"- {line}" for line in notes)]
    return "\n".join(lines)


def contention_lines(results: Results) -> list[str]:
    shared = [f"{tool['tool']} {tool['seconds'] / tool['cpu_seconds'] - 1:.0%}"
              for tool in results["tools"] if tool["status"] == "ok" and tool["cpu_seconds"]
              and tool["seconds"] > CONTENTION * tool["cpu_seconds"]]
    if not shared:
        return []
    return [f"Wall-clock above CPU time ({', '.join(shared)}): the tool waited, for other "
            f"work on the pinned core or in its own sleeps; packets/CPU s leaves that out, and "
            f"`--repeat N` keeps the best run."]


def capture_line(results: Results) -> str:
    contents = results["contents"]
    if not contents:
        return f"Capture: {results['capture']}"
    groups: Counter[str] = Counter()
    for kind, packets in contents["packets_by_kind"].items():
        groups[_group(kind)] += packets
    total = contents["packets"]
    parts = ", ".join(f"{name} {100 * n / total:.1f} %" for name, n in groups.most_common())
    up = contents["user_plane"]
    return (f"Capture: {total:,} packets, {contents['flows']:,} flows over "
            f"{contents['span_seconds']:.0f} s ({parts}); {up['teids']:,} TEIDs on "
            f"{up['gnb_upf_pairs']} gNB/UPF pairs. Built by `bench/make_capture.py`.")


def machine_line(results: Results) -> str:
    m = results["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average"])
    return (f"Machine: {m['cpu_model']} ({m['cores']} cores, {m['memory_gib']} GiB), "
            f"Linux {m['kernel']}, Python {m['python']}; every tool pinned to CPU "
            f"{m['pinned_core']}; load average at start {load}. packets/s = capture packets / "
            f"wall-clock seconds, start-up included; after start-up = the packets after the "
            f"first / (those seconds − the seconds of a run on the first packet alone).")


def flow_lines(results: Results) -> list[str]:
    by = {tool["tool"]: tool for tool in results["tools"] if tool["status"] == "ok"}
    ours, theirs = _flows(by, "liaowang"), _flows(by, "nfstream")
    generated = results["contents"].get("flows")
    lines = [f"Flows: Liaowang {_count(ours)}, NFStream {_count(theirs)}; in the capture "
             f"{_count(generated)} distinct bidirectional 5-tuples, GTP-U by inner 5-tuple "
             f"(dpkt loop: {_count(_flows(by, 'dpkt'))})."]
    if ours is not None and theirs is not None:
        lines += flow_notes(results, by, ours, theirs)
    return lines + own_rate_lines(by)


def flow_notes(results: Results, by: dict[str, Any], ours: int, theirs: int) -> list[str]:
    if ours == theirs:
        return ["Liaowang and NFStream count the same flows."]
    contents = results["contents"]
    notes = [f"Liaowang − NFStream = {ours - theirs:+,}."]
    outer = _outer_view(contents)
    if outer and abs(ours - outer) <= max(2, outer // 100):
        notes.append(f"Liaowang's count matches metering GTP-U by its outer tunnel "
                     f"(gNB:2152 ↔ UPF:2152; ≈ {outer:,} flows), where NFStream "
                     f"(decode_tunnels) meters inner 5-tuples.")
    notes += protocol_notes(contents.get("flows_by_ip_protocol", {}),
                            by["nfstream"]["detail"].get("flows_by_ip_protocol", {}))
    malformed = by["liaowang"]["detail"].get("malformed", 0)
    if malformed:
        notes.append(f"Liaowang counted {malformed:,} packets as malformed (in no flow).")
    total, metered = contents.get("packets"), by["nfstream"]["packets"]
    if total and metered and metered < total:
        notes.append(f"NFStream put {metered:,} of {total:,} packets in flows.")
    return notes


def protocol_notes(generated: dict[str, int], nfstream: dict[str, int]) -> list[str]:
    notes = []
    for proto, count in sorted(generated.items()):
        seen = nfstream.get(proto, 0)
        if seen == count:
            continue
        name = PROTOCOLS.get(proto, f"IP protocol {proto}")
        why = WHY.get(proto, "")
        notes.append(f"{name}: {count:,} in the capture, NFStream {seen:,}{why}.")
    return notes


def own_rate_lines(by: dict[str, Any]) -> list[str]:
    detail = by.get("liaowang", {}).get("detail", {})
    if "own_packets_per_second" not in detail:
        return []
    return [f"Liaowang's own summary line (start-up excluded): "
            f"{detail['own_packets_per_second']:,.0f} packets/s over "
            f"{detail['own_seconds']:.1f} s."]


def memory_lines(results: Results) -> list[str]:
    memory = results.get("flow_memory")
    if not memory:
        return []
    peak = memory["peak_rss_mib"]
    verdict = ("met" if peak <= MEMORY_TARGET_MIB
               else f"missed by {peak - MEMORY_TARGET_MIB:,.0f} MiB")
    return [f"Memory: {memory['live_flows']:,} concurrent flows in the sensor: peak RSS "
            f"{peak:,.0f} MiB ({memory['bytes_per_flow']:,.0f} bytes per flow above the "
            f"{memory['baseline_rss_mib']:,.0f} MiB baseline); target ≤ {MEMORY_TARGET_MIB:,} "
            f"MiB: {verdict}."]


def _outer_view(contents: dict[str, Any]) -> int | None:
    """Flows there would be if GTP-U were metered by the outer tunnel, not inner 5-tuples."""
    if not contents:
        return None
    user_plane = sum(n for kind, n in contents["flows_by_kind"].items()
                     if kind.startswith("gtp-u/"))
    return int(contents["flows"] - user_plane + contents["user_plane"]["gnb_upf_pairs"])


def _flows(by: dict[str, Any], name: str) -> int | None:
    return by[name]["flows"] if name in by else None


def _group(kind: str) -> str:
    if kind.startswith("gtp-u/"):
        return "GTP-U user plane"
    if kind.startswith("plain/"):
        return "plain TCP/UDP"
    return {"s7comm": "S7comm", "iec104": "IEC-104", "pfcp": "PFCP", "ngap": "NGAP",
            "modbus": "Modbus"}.get(kind, kind)


def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value else "n/a"


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "n/a"
