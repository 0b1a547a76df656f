"""The console's web UI in a real browser (Debian's Chromium driven by Playwright), against the
real console over a real SQLite store filled by ``liaowang replay`` of real S7comm captures that
raise alerts, with a user added by ``liaowang users add``.

Screenshots are kept as artefacts in each test's pytest tmp dir. The SOC is air-gapped, so every
test also checks that the page asked nothing of any other host.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console.app import WEB_DIR, create_app
from liaowang.config import load_config
from pipelines.store import open_store
from pipelines.store.base import Event, Store
from sensor.engine import Sensor
from tests.utils.pcaps import PCAPS, sensor_events

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SOC_SCREEN = {"width": 1366, "height": 768}
S7 = PCAPS / "ITI__ICS-Security-Tools"
# Together: 6 alerts of 4 rules (PLC stop, PI service, block download, SZL read burst).
CAPTURES = [S7 / "pcaps__s7__step7_s300_stop.pcapng",
            S7 / "pcaps__s7__s7comm_downloading_block_db1.pcap",
            S7 / "pcaps__s7__s7comm_reading_plc_status.pcap"]
PLC_STOP = "S7comm PLC stop request"
STOPPED_PLC = "s300-line-3"   # the configured asset the PLC stop is sent to
ANALYST, VIEWER, PASSWORD = "mei", "wang.viewer", "correct horse battery staple"
ADMIN = "lin.admin"
MAX_LOGIN_FAILURES = 3
LIAOWANG = str(Path(sys.executable).parent / "liaowang")


@dataclass(frozen=True)
class Console:
    url: str
    store: Store  # the test's own handle on the console's store, to check what the UI did


def _liaowang(*args: str) -> None:
    done = subprocess.run([LIAOWANG, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _config(folder: Path) -> Path:
    config = folder / "liaowang.yml"
    config.write_text(
        f"store: {{url: 'sqlite:///{folder / 'events.db'}'}}\n"
        f"pipelines: {{spool: {{path: '{folder / 'spool'}'}}}}\n"
        f"console: {{accounts_db: '{folder / 'accounts.db'}', "
        f"login_max_failures: {MAX_LOGIN_FAILURES}, stream_poll_s: 0.2}}\n"
        f"response: {{actions_db: '{folder / 'actions.db'}'}}\n"
        f"detection: {{overrides_file: '{folder / 'rule-overrides.yml'}'}}\n"
        # Nothing listens there: the alerts become dead letters once a second old.
        f"webhooks: [{{name: soc, url: 'http://127.0.0.1:9/hook', max_age_s: 1, "
        f"retry_first_s: 0.2}}]\n"
        f"zones: [{{name: line-3, cidrs: [134.249.61.0/24], kind: ot}}]\n"
        f"assets:\n"
        f"  - {{name: {STOPPED_PLC}, ip: 134.249.61.163, zone: line-3, criticality: critical,"
        f" role: plc}}\n"
        f"  - {{name: lab-plc, ip: 192.168.1.40, criticality: low, role: plc}}\n")
    return config


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The real console app, served by uvicorn on a free local port in a background thread."""
    folder = tmp_path_factory.mktemp("console")
    config = _config(folder)
    _liaowang("replay", *map(str, CAPTURES), "--config", str(config))
    (folder / "password").write_text(PASSWORD + "\n")
    for name, role in [(ANALYST, "analyst"), (VIEWER, "viewer"), (ADMIN, "admin")]:
        _liaowang("users", "add", name, "--role", role,
                  "--password-file", str(folder / "password"), "--config", str(config))
    settings = load_config(config)
    with open_store(settings.store.url) as served, open_store(settings.store.url) as mine:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(served, settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield Console(f"http://127.0.0.1:{sock.getsockname()[1]}", mine)
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "chromium is not installed; make test installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def requested() -> list[str]:
    """Every URL the page requests."""
    return []


def _open(browser: Browser, console: Console, requested: list[str], locale: str,
          script_errors: list[str] | None = None) -> Page:
    context = browser.new_context(viewport=SOC_SCREEN, locale=locale)
    page = context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    if script_errors is not None:
        page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(console.url)
    return page


@pytest.fixture
def page(browser: Browser, console: Console, requested: list[str]) -> Iterator[Page]:
    """A fresh browser profile (no cookies, no saved queries) in English; the test fails if a
    script of the page raised."""
    script_errors: list[str] = []
    page = _open(browser, console, requested, "en-US", script_errors)
    yield page
    page.context.close()
    assert script_errors == []


def foreign(requested: list[str], console: Console) -> list[str]:
    """Requests that went anywhere but the console (``data:`` URLs stay in the page)."""
    app = urlsplit(console.url).netloc
    return [url for url in requested
            if urlsplit(url).scheme != "data" and urlsplit(url).netloc != app]


def log_in(page: Page, username: str = ANALYST, password: str = PASSWORD) -> None:
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(password)
    page.locator("#login-submit").click()


def stored_alerts(console: Console, query: str = "") -> list[Event]:
    clauses = " AND ".join(filter(None, ["event.kind:alert", query]))
    return console.store.search(clauses, size=100).data


def alert_named(console: Console, rule_name: str) -> Event:
    (alert,) = stored_alerts(console, f'rule.name:"{rule_name}"')
    return alert


# ---- login ---------------------------------------------------------------------------------


def test_wrong_password_is_refused_then_login_shows_the_dashboard(
        page: Page, console: Console, requested: list[str], tmp_path: Path) -> None:
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()
    log_in(page, password="not the password")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    log_in(page)
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#whoami")).to_have_text(f"{ANALYST} · analyst")
    assert page.url.endswith("#/dashboard") or urlsplit(page.url).fragment == ""
    page.screenshot(path=str(tmp_path / "login.png"))
    assert foreign(requested, console) == []


def test_repeated_failures_show_the_rate_limit(page: Page, console: Console) -> None:
    for _ in range(MAX_LOGIN_FAILURES):
        log_in(page, username="mallory", password="guess")
        expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    log_in(page, username="mallory", password="guess")
    expect(page.locator("#login-error")).to_contain_text("Too many login attempts")


def test_a_401_returns_to_the_login_page(page: Page, console: Console) -> None:
    log_in(page)
    expect(page.locator("#threat-level")).not_to_be_empty()
    page.context.clear_cookies()
    page.locator("#dashboard-refresh").click()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()


def test_logout_ends_the_session(page: Page, console: Console) -> None:
    log_in(page)
    expect(page.locator("#app-view")).to_be_visible()
    page.locator("#logout").click()
    expect(page.locator("#login-view")).to_be_visible()
    page.reload()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()


# ---- dashboard -----------------------------------------------------------------------------


def test_dashboard_shows_the_situation_of_the_replayed_traffic(
        page: Page, console: Console, requested: list[str], tmp_path: Path) -> None:
    alerts = stored_alerts(console)
    log_in(page)
    expect(page.locator("#total-alerts")).to_have_text(str(len(alerts)))
    expect(page.locator("#total-events")).to_have_text(
        f"{console.store.search('event.kind:event', size=1).count:,}")
    expect(page.locator("#threat-level")).to_have_attribute(
        "data-level", re.compile("^(low|guarded|elevated|high|severe)$"))
    critical = sum(a["event"]["severity"] == 4 for a in alerts)
    expect(page.locator("#severity-bars li").first).to_contain_text(f"Critical{critical}")
    expect(page.locator("#top-rules")).to_contain_text(PLC_STOP)
    expect(page.locator("#protocol-bars li").first).to_contain_text("s7comm")
    expect(page.locator("#top-destinations")).to_contain_text("192.168.1.40")
    assert page.locator("#alert-timeline svg rect.bar").count() >= 1
    # The PLCs serve S7comm on port 102: they and their clients sit in an OT cell.
    expect(page.locator("#comm-graph .zone-label")).to_have_text("OT cell (4)")
    expect(page.locator('#comm-graph g.host[data-host="192.168.1.40"]')).to_have_class(
        re.compile("zone-ot"))
    assert page.locator("#comm-graph path.link").count() >= 2
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    assert foreign(requested, console) == []


def test_a_new_alert_appears_in_the_live_feed(page: Page, console: Console) -> None:
    log_in(page)
    expect(page.locator("#live-state")).to_have_class(re.compile(r"\bon\b"))
    alert = json.loads(json.dumps(alert_named(console, PLC_STOP)))
    alert["event"]["id"] = "live-feed-test-alert"
    alert["@timestamp"] = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"
    alert["rule"]["name"] = '<img src="http://203.0.113.9/x.png"> live'
    console.store.write([alert])
    expect(page.locator("#live-feed li")).to_have_count(1, timeout=10_000)
    expect(page.locator("#live-feed")).to_contain_text('<img src="http://203.0.113.9/x.png">')
    expect(page.locator("#live-feed img")).to_have_count(0)


def test_a_dashboard_bar_opens_the_hunt(page: Page, console: Console) -> None:
    log_in(page)
    page.locator("#top-destinations button", has_text="192.168.1.40").click()
    expect(page.locator("#hunt-query")).to_have_value('destination.ip:"192.168.1.40"')
    count = console.store.search('destination.ip:"192.168.1.40"', size=1).count
    expect(page.locator("#hunt-status")).to_contain_text(f"of {count} events")


# ---- alerts --------------------------------------------------------------------------------


def test_triage_an_alert_from_the_keyboard(page: Page, console: Console, requested: list[str],
                                           tmp_path: Path) -> None:
    stop = alert_named(console, PLC_STOP)
    log_in(page)
    page.locator('.tabs a[data-view="alerts"]').click()
    expect(page.locator("#alert-rows tr")).to_have_count(len(stored_alerts(console)))
    page.locator("#alert-query").fill(f'rule.name:"{PLC_STOP}"')
    page.locator("#alert-query").press("Enter")
    expect(page.locator("#alert-rows tr")).to_have_count(1)
    page.locator("#alert-query").press("Escape")

    page.keyboard.press("a")
    expect(page.locator("#alert-rows tr .status")).to_have_text("Acknowledged")
    assert console.store.get(stop["event"]["id"])["alert"]["status"] == "acknowledged"

    page.keyboard.press("o")
    detail = page.locator("#alert-detail")
    expect(detail.locator("h3")).to_have_text(PLC_STOP)
    expect(detail).to_contain_text("T0881")
    expect(detail).to_contain_text("MITRE ATT&CK for ICS")
    evidence = detail.locator("table.evidence tbody tr")
    expect(evidence).to_have_count(len(stop["evidence"]["event_ids"]))
    expect(evidence.first.locator("td").first).to_have_text(str(stop["evidence"]["frames"][0]))

    detail.locator("#comment-text").fill("PLC stop from the engineering station; called plant")
    detail.locator("button", has_text="Add comment").click()
    expect(detail.locator(".comment-text")).to_have_text(
        "PLC stop from the engineering station; called plant")
    (comment,) = console.store.get(stop["event"]["id"])["alert"]["comments"]
    assert comment["by"] == ANALYST
    page.screenshot(path=str(tmp_path / "alert-detail.png"))

    page.keyboard.press("x")
    page.keyboard.press("c")
    expect(page.locator("#alert-rows tr .status")).to_have_text("Closed: true positive")
    assert console.store.get(stop["event"]["id"])["alert"]["status"] == "closed_true_positive"
    assert foreign(requested, console) == []


def test_bulk_assign_and_status_filter(page: Page, console: Console) -> None:
    bursts = stored_alerts(console, 'rule.name:"S7comm SZL read burst"')
    log_in(page)
    page.goto(f"{console.url}/#/alerts")
    page.locator("#alert-query").fill('rule.name:"S7comm SZL read burst"')
    page.locator("#alert-query").press("Enter")
    expect(page.locator("#alert-rows tr")).to_have_count(len(bursts))
    page.locator("#select-all").check()
    expect(page.locator("#selected-count")).to_have_text(f"{len(bursts)} selected")
    page.locator("#bulk-assignee").fill("li.wei")
    page.locator("#bulk-assign").click()
    expect(page.locator("#alert-rows .col-assignee")).to_have_text(["li.wei"] * len(bursts))
    assert {console.store.get(a["event"]["id"])["alert"]["assignee"] for a in bursts} == {"li.wei"}

    page.locator("#alert-rows tr").first.locator("input").check()
    page.locator('[data-bulk="closed_false_positive"]').click()
    expect(page.locator("#alert-rows .status", has_text="Closed: false positive")).to_have_count(1)
    page.locator("#alert-status").select_option("closed_false_positive")
    expect(page.locator("#alert-rows tr")).to_have_count(1)
    page.locator("#alert-severity").select_option("4")
    expect(page.locator("#alerts-empty")).to_be_visible()


def test_alerts_sort_by_risk_and_show_the_assets_and_zones(page: Page, console: Console,
                                                           tmp_path: Path) -> None:
    alerts = stored_alerts(console)
    log_in(page)
    page.goto(f"{console.url}/#/alerts")
    expect(page.locator("#alert-rows tr")).to_have_count(len(alerts))
    page.locator(".alerts-table th.col-risk").click()
    expect(page.locator(".alerts-table th.col-risk")).to_have_attribute("aria-sort", "descending")
    highest = sorted((a["event"]["risk_score"] for a in alerts), reverse=True)
    expect(page.locator("#alert-rows .col-risk")).to_have_text(
        [str(int(score + 0.5)) for score in highest])
    riskiest = {a["event"]["id"] for a in alerts if a["event"]["risk_score"] == max(highest)}
    assert page.locator("#alert-rows tr").first.get_attribute("data-id") in riskiest

    (stop,) = [a for a in alerts if a["rule"]["name"] == PLC_STOP]
    page.locator(f'#alert-rows tr[data-id="{stop["event"]["id"]}"]').click()
    places = page.locator("#alert-detail .places")
    expect(places).to_contain_text(f"{STOPPED_PLC} (plc)")
    expect(places).to_contain_text("line-3 (ot)")
    expect(places).to_contain_text("criticality 5/5")
    page.screenshot(path=str(tmp_path / "alert-places.png"))
    (folded,) = [a for a in alerts if "repeat_of" in a["alert"]]   # the SZL read bursts
    page.locator(f'#alert-rows tr[data-id="{folded["event"]["id"]}"]').click()
    expect(page.locator("#alert-detail")).to_contain_text(
        f"Occurrences{folded['alert']['repeat_count']}")
    page.locator(".alerts-table th.col-risk").click()
    expect(page.locator(".alerts-table th.col-risk")).to_have_attribute("aria-sort", "none")


def test_a_viewer_sees_alerts_but_cannot_triage(page: Page, console: Console) -> None:
    log_in(page, username=VIEWER)
    page.goto(f"{console.url}/#/alerts")
    expect(page.locator("#alert-rows tr")).to_have_count(len(stored_alerts(console)))
    expect(page.locator(".bulkbar")).to_be_hidden()
    statuses = page.locator("#alert-rows .status").all_text_contents()
    page.keyboard.press("a")
    page.keyboard.press("o")
    expect(page.locator("#alert-detail h3")).to_be_visible()
    expect(page.locator("#alert-detail .detail-actions")).to_be_hidden()
    expect(page.locator("#alert-detail .comment-form")).to_be_hidden()
    assert page.locator("#alert-rows .status").all_text_contents() == statuses


# ---- incidents -----------------------------------------------------------------------------


def test_open_an_incident_and_its_timeline(page: Page, console: Console, requested: list[str],
                                           tmp_path: Path) -> None:
    incidents = console.store.search_incidents().data
    progressed = next(i for i in incidents if i["incident"]["stages"] == ["discovery", "command"])
    body = progressed["incident"]
    log_in(page)
    page.locator('.tabs a[data-view="incidents"]').click()
    expect(page.locator("#incident-rows tr")).to_have_count(len(incidents))
    row = page.locator("#incident-rows tr", has_text=body["title"])
    expect(row.locator(".stage.reached")).to_have_text(["Discovery", "Command"])

    row.click()
    detail = page.locator("#incident-detail")
    expect(detail.locator("h3")).to_have_text(body["title"])
    timeline = detail.locator("table.timeline-table tbody tr")
    expect(timeline).to_have_count(len(body["timeline"]))
    expect(timeline.first).to_contain_text(body["timeline"][0]["rule"])
    detail.locator('button[data-status="in_progress"]').click()
    expect(row.locator(".status")).to_have_text("In progress")
    stored = console.store.get_incident(progressed["event"]["id"])
    assert stored is not None and stored["incident"]["status"] == "in_progress"
    page.screenshot(path=str(tmp_path / "incident-detail.png"))

    page.locator("#language").select_option("zh-CN")
    expect(detail.locator("h4").first).to_have_text("时间线")
    expect(row.locator(".stage.reached")).to_have_text(["侦察", "控制"])
    page.locator("#language").select_option("en")
    timeline.first.click()
    expect(page.locator("#alert-detail h3")).to_have_text(body["timeline"][0]["rule"])
    assert foreign(requested, console) == []


# ---- hunt ----------------------------------------------------------------------------------


def test_run_a_hunt_and_save_it(page: Page, console: Console, requested: list[str],
                                tmp_path: Path) -> None:
    query = "event.dataset:s7comm AND s7comm.function:41"
    matches = console.store.search(query, size=100)
    log_in(page)
    page.locator('.tabs a[data-view="hunt"]').click()
    page.locator("#hunt-columns").fill("source.ip, s7comm.function_name, pcap.frame")
    page.locator("#hunt-query").fill(query)
    page.locator("#hunt-query").press("Enter")
    expect(page.locator("#hunt-rows tr")).to_have_count(matches.count)
    expect(page.locator("#hunt-status")).to_have_text(
        f"{matches.count} of {matches.count} events")
    expect(page.locator("#hunt-head th")).to_have_text(
        ["Time (UTC)", "source.ip", "s7comm.function_name", "pcap.frame", "Summary"])
    frames = sorted(str(e["pcap"]["frame"]) for e in matches.data)
    shown = page.locator("#hunt-rows tr td:nth-child(4)").all_text_contents()
    assert sorted(shown) == frames
    assert page.locator("#hunt-histogram svg rect.bar").count() >= 1

    page.locator("#hunt-save").click()
    expect(page.locator("#saved-queries li")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "hunt.png"))
    page.reload()
    page.goto(f"{console.url}/#/hunt")
    expect(page.locator("#saved-queries li")).to_have_count(1)
    page.locator("#hunt-query").fill("")
    page.locator("#saved-queries .saved-load").click()
    expect(page.locator("#hunt-query")).to_have_value(query)
    expect(page.locator("#hunt-rows tr")).to_have_count(matches.count)
    assert foreign(requested, console) == []


def test_the_hunt_shows_how_many_weirds_a_sampled_one_stands_for(page: Page,
                                                                   console: Console) -> None:
    """Weirds are sampled: the 20th of a lossy flow says it is the 20th, and its flow event how
    many the flow had in all."""
    events = sensor_events(S7 / "pcaps__s7__wincc_s400_production.pcapng", Sensor("lossy-tap"))
    twentieth = next(e for e in events if e.get("weird", {}).get("count") == 20)
    flow = next(e for e in events if e["event"]["dataset"] == "flow"
                and e["network"]["community_id"] == twentieth["network"]["community_id"])
    console.store.write([twentieth, flow])
    log_in(page)
    page.locator('.tabs a[data-view="hunt"]').click()
    page.locator("#hunt-query").fill('observer.name:"lossy-tap"')
    page.locator("#hunt-query").press("Enter")
    expect(page.locator("#hunt-rows tr")).to_have_count(2)
    expect(page.locator("#hunt-rows")).to_contain_text("tcp_gap analyzer=s7comm #20")
    expect(page.locator("#hunt-rows")).to_contain_text(f"weirds={flow['flow']['weird_count']}")


def test_a_bad_hunt_query_shows_the_api_error(page: Page, console: Console) -> None:
    log_in(page)
    page.goto(f"{console.url}/#/hunt")
    page.locator("#hunt-query").fill("s7comm.function:(41 OR")
    page.locator("#hunt-query").press("Enter")
    expect(page.locator("#hunt-error")).to_be_visible()
    expect(page.locator("#hunt-rows tr")).to_have_count(0)
    page.locator("#hunt-query").fill("event.dataset:flow")
    page.locator("#hunt-query").press("Enter")
    expect(page.locator("#hunt-error")).to_be_hidden()
    expect(page.locator("#hunt-rows tr")).to_have_count(
        console.store.search("event.dataset:flow").count)


# ---- languages -----------------------------------------------------------------------------


def test_switch_language_to_chinese_and_back(page: Page, console: Console, requested: list[str],
                                             tmp_path: Path) -> None:
    log_in(page)
    expect(page.locator('.tabs a[data-view="dashboard"]')).to_have_text("Situation")
    page.locator("#language").select_option("zh-CN")
    expect(page.locator('.tabs a[data-view="dashboard"]')).to_have_text("态势")
    expect(page.locator('.tabs a[data-view="alerts"]')).to_have_text("告警")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#threat-level")).to_have_text(re.compile("^(低|关注|升高|高|严重)$"))
    page.goto(f"{console.url}/#/alerts")
    expect(page.locator("#alert-rows tr").first.locator(".sev")).to_have_text(
        re.compile("^(低|中|高|严重)$"))
    page.screenshot(path=str(tmp_path / "alerts-zh-CN.png"))
    page.reload()
    expect(page.locator('.tabs a[data-view="hunt"]')).to_have_text("狩猎")
    page.locator("#language").select_option("en")
    expect(page.locator('.tabs a[data-view="hunt"]')).to_have_text("Hunt")
    assert foreign(requested, console) == []


def test_the_browser_language_chooses_the_default(browser: Browser, console: Console,
                                                  requested: list[str]) -> None:
    page = _open(browser, console, requested, "zh-CN")
    try:
        expect(page.locator("#login-submit")).to_have_text("登录")
        log_in(page, password="wrong")
        expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    finally:
        page.context.close()


def test_both_catalogues_name_every_string_of_the_page() -> None:
    catalogues = {path.stem: json.loads(path.read_text())
                  for path in (WEB_DIR / "i18n").glob("*.json")}
    assert set(catalogues) == {"en", "zh-CN"}
    assert set(catalogues["en"]) == set(catalogues["zh-CN"])
    markup = (WEB_DIR / "index.html").read_text()
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', markup))
    assert used - set(catalogues["en"]) == set()
    assert all(value.strip() for catalogue in catalogues.values() for value in catalogue.values())


# ---- assets and settings -------------------------------------------------------------------


def test_assets_view_shows_the_discovered_hosts(page: Page, console: Console,
                                                requested: list[str], tmp_path: Path) -> None:
    inventory = console.store.search_assets(size=1000)
    assert inventory.count >= 4   # the S7 captures' PLCs and engineering stations
    log_in(page)
    page.locator('.tabs a[data-view="assets"]').click()
    expect(page.locator("#asset-rows tr")).to_have_count(inventory.count)
    expect(page.locator("#assets-count")).to_have_text(
        f"{inventory.count} of {inventory.count} assets")
    plc = page.locator('#asset-rows tr[data-ip="134.249.61.163"]')
    expect(plc).to_contain_text("PLC")
    expect(plc).to_contain_text("OT cell")
    expect(plc.locator(".sev")).to_have_text("Critical")
    expect(plc.locator(".col-vendor")).to_have_text("Siemens AG")   # from the PLC's MAC
    plc.click()
    detail = page.locator("#asset-detail")
    expect(detail).to_contain_text(STOPPED_PLC)
    expect(detail).to_contain_text("00-1B-1B-1A-D6-E0")
    expect(detail.locator(".asset-alerts")).to_contain_text(PLC_STOP)
    page.screenshot(path=str(tmp_path / "asset-detail.png"))

    page.locator("#asset-query").fill("6ES7")   # an S7 order number read from the SZL
    page.locator("#asset-query").press("Enter")
    expect(page.locator("#asset-rows tr")).to_have_count(1)
    page.locator("#asset-rows tr").first.click()
    expect(detail).to_contain_text("S7 module (SZL)")
    expect(detail).to_contain_text("6ES7 151-8AB01-0AB0")
    page.locator("#language").select_option("zh-CN")
    expect(page.locator('.tabs a[data-view="assets"]')).to_have_text("资产")
    expect(detail).to_contain_text("S7 模块（SZL）")
    page.screenshot(path=str(tmp_path / "assets-zh-CN.png"))
    assert foreign(requested, console) == []


def test_settings_create_a_token_as_admin(page: Page, console: Console, requested: list[str],
                                          tmp_path: Path) -> None:
    log_in(page)
    expect(page.locator('.tabs a[data-view="settings"]')).to_be_hidden()   # an analyst
    page.locator("#logout").click()
    log_in(page, username=ADMIN)
    page.locator('.tabs a[data-view="settings"]').click()
    expect(page.locator("#user-rows tr")).to_have_count(3)
    page.locator("#token-name").fill("siem-export")
    page.locator("#token-role").select_option("viewer")
    page.locator("#token-days").fill("30")
    page.locator("#token-form button[type=submit]").click()
    secret = page.locator("#token-secret-value")
    expect(page.locator("#token-secret")).to_be_visible()
    expect(secret).to_have_text(re.compile(r"^\S{20,}$"))
    token = secret.text_content()
    expect(page.locator("#token-rows tr", has_text="siem-export")).to_have_count(1)
    expect(page.locator("#audit-rows tr").first).to_contain_text("token.create")
    page.screenshot(path=str(tmp_path / "settings.png"))

    answer = page.request.get(f"{console.url}/api/alerts",
                              headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200   # the new token works, with its role
    page.locator("#token-secret-done").click()
    expect(page.locator("#token-secret")).to_be_hidden()
    page.reload()
    page.goto(f"{console.url}/#/settings")
    expect(page.locator("#token-rows tr", has_text="siem-export")).to_have_count(1)
    expect(page.locator("#token-secret")).to_be_hidden()   # shown once only
    assert foreign(requested, console) == []


def test_an_admin_switches_a_rule_off_in_the_rules_view(page: Page, console: Console,
                                                       requested: list[str],
                                                       tmp_path: Path) -> None:
    log_in(page, username=VIEWER)
    page.locator('.tabs a[data-view="rules"]').click()
    stop = page.locator("#rule-rows tr", has_text=PLC_STOP)
    expect(stop.locator(".rule-switch")).to_be_disabled()   # only admins switch rules
    rules = page.request.get(f"{console.url}/api/rules").json()["data"]
    expect(page.locator("#rule-rows tr")).to_have_count(len(rules))
    page.locator("#logout").click()

    log_in(page, username=ADMIN)
    page.locator('.tabs a[data-view="rules"]').click()
    page.locator("#rule-filter").fill("t0881 s7")
    wanted = [r for r in rules if all(w in " ".join([r["title"], r["id"], str(r["dataset"]),
                                                     r["level"], *r["techniques"], *r["tags"]])
                                      .lower() for w in ("t0881", "s7"))]
    expect(page.locator("#rule-rows tr")).to_have_count(len(wanted))
    expect(stop.locator(".sev")).to_have_text("critical")
    switch = stop.locator(".rule-switch")
    expect(switch).to_be_checked()
    switch.click()
    expect(stop).to_have_class(re.compile(r"\bdisabled\b"))
    expect(switch).not_to_be_checked()
    page.screenshot(path=str(tmp_path / "rules.png"))
    states = {r["title"]: r["enabled"]
              for r in page.request.get(f"{console.url}/api/rules").json()["data"]}
    assert states[PLC_STOP] is False and sum(not on for on in states.values()) == 1

    page.reload()
    page.goto(f"{console.url}/#/rules")
    expect(stop.locator(".rule-switch")).not_to_be_checked()
    page.locator("#language").select_option("zh-CN")
    expect(page.locator('.tabs a[data-view="rules"]')).to_have_text("规则")
    expect(stop.locator(".sev")).to_have_text("严重")
    stop.locator(".rule-switch").click()   # on again, for the other tests
    expect(stop.locator(".rule-switch")).to_be_checked()
    assert foreign(requested, console) == []


# ---- response actions, packets and webhooks ---------------------------------------------------


def test_an_analyst_blocks_the_attacker_and_downloads_the_packets(
        page: Page, console: Console, requested: list[str], tmp_path: Path) -> None:
    stop = alert_named(console, PLC_STOP)
    log_in(page)
    page.goto(f"{console.url}/#/alerts/{stop['event']['id']}")
    response = page.locator("#alert-response")
    response.locator("#response-reason").fill("PLC stop from an unknown station")
    response.locator("button.action-block").click()
    record = response.locator(".action-record").first
    expect(record).to_contain_text("dry run: recorded only")
    expect(record.locator('[data-artefact="nftables"] pre')).to_contain_text(
        f"saddr {stop['source']['ip']} counter drop")
    page.screenshot(path=str(tmp_path / "alert-response.png"))

    with page.expect_download() as download:
        response.locator("#alert-pcap").click()
    saved = tmp_path / "alert.pcap"
    download.value.save_as(saved)
    functions = subprocess.run(["tshark", "-n", "-r", str(saved), "-T", "fields", "-e",
                                "s7comm.param.func"], capture_output=True, text=True,
                               timeout=60, check=True).stdout.split()
    assert "0x29" in functions      # the PLC stop job is among the packets
    assert foreign(requested, console) == []


def test_an_admin_replays_a_dead_letter(page: Page, console: Console, requested: list[str],
                                        tmp_path: Path) -> None:
    log_in(page, username=ADMIN)
    page.locator('.tabs a[data-view="settings"]').click()
    target = page.locator('#webhook-targets tr[data-webhook="soc"]')
    expect(target).to_have_count(1)
    dead = int(target.locator(".dead").text_content())
    assert dead >= 1
    expect(page.locator("#webhook-dead-letters tbody tr")).to_have_count(dead)
    page.locator("#webhook-dead-letters button.replay").first.click()
    expect(page.locator("#webhooks-note")).to_contain_text("1 alerts queued again")
    expect(target.locator(".dead")).to_have_text(str(dead - 1))
    expect(target.locator(".pending")).to_have_text("1")
    audit = page.request.get(f"{console.url}/api/audit").json()["data"]
    assert audit[0]["action"] == "webhook.replay" and audit[0]["username"] == ADMIN
    page.screenshot(path=str(tmp_path / "webhooks.png"))
    page.locator("#language").select_option("zh-CN")
    expect(page.locator("#settings-webhooks h3")).to_have_text("Webhook 推送")
    assert foreign(requested, console) == []


def test_saved_queries_follow_the_user_to_another_browser(
        page: Page, browser: Browser, console: Console, requested: list[str]) -> None:
    query = "event.dataset:s7comm AND s7comm.function:28"
    log_in(page)
    page.goto(f"{console.url}/#/hunt")
    page.locator("#hunt-query").fill(query)
    page.locator("#hunt-query").press("Enter")
    page.locator("#hunt-save").click()
    expect(page.locator("#saved-queries .saved-load", has_text=query)).to_have_count(1)

    elsewhere = _open(browser, console, requested, "en-US")   # a fresh profile: no storage
    try:
        log_in(elsewhere)
        elsewhere.goto(f"{console.url}/#/hunt")
        saved = elsewhere.locator("#saved-queries li", has_text=query)
        expect(saved).to_have_count(1)
        saved.locator(".saved-delete").click()
        expect(saved).to_have_count(0)
    finally:
        elsewhere.context.close()
    page.reload()
    page.goto(f"{console.url}/#/hunt")
    expect(page.locator("#saved-queries li", has_text=query)).to_have_count(0)
    assert foreign(requested, console) == []



# ---- sensors -------------------------------------------------------------------------------


def test_the_sensors_view_lists_heartbeats_in_both_languages(
        page: Page, console: Console, requested: list[str], tmp_path: Path) -> None:
    from contextlib import closing

    import httpx

    from console.auth.accounts import Accounts
    from console.auth.roles import Role

    folder = Path(console.store.path).parent   # the fixture's folder holds accounts.db
    with closing(Accounts.open(folder / "accounts.db")) as accounts:
        token = accounts.tokens.create("tap-ui", Role.sensor, "tests")[1]
    beat = {"name": "tap-east-1", "version": "0.1.0", "packets": 123456, "drops": 7,
            "events": 4321, "lag": 1.5, "started": "2026-11-26T00:00:00Z"}
    answer = httpx.post(f"{console.url}/api/sensors/heartbeat", json=beat,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 204
    log_in(page, VIEWER)
    page.locator('.tabs a[data-view="sensors"]').click()
    row = page.locator('#sensor-rows tr[data-name="tap-east-1"]')
    expect(row).to_contain_text("123,456")
    expect(row.locator(".chip")).to_have_text("live")
    page.locator("#language").select_option("zh-CN")
    expect(page.locator('.tabs a[data-view="sensors"]')).to_have_text("传感器")
    expect(page.locator('#sensor-rows tr[data-name="tap-east-1"] .chip')).to_have_text("在线")
    page.screenshot(path=str(tmp_path / "sensors-zh-CN.png"))
    page.locator("#language").select_option("en")
    assert foreign(requested, console) == []
