"""The web UI in a real browser (Debian's Chromium driven by Playwright) over a live server.

The SOC is air-gapped, so every test also checks that the page asked nothing of any other host.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from pipelines.store.base import Event

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path("/tmp/console.png")
BAD_QUERY = "modbus.function_code:(3 OR"
HOSTILE = '<img src="http://203.0.113.9/x.png"><script>document.title="owned"</script>'


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def requested() -> list[str]:
    """Every URL the page requests."""
    return []


@pytest.fixture
def page(server: str, requested: list[str]) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed; make test installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 720})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(server)
        yield page
        browser.close()


def foreign(requested: list[str], server: str) -> list[str]:
    """Requests that went anywhere but the app (``data:`` URLs stay in the page)."""
    app = urlsplit(server).netloc
    return [url for url in requested
            if urlsplit(url).scheme != "data" and urlsplit(url).netloc != app]


def submit_query(page: Page, query: str) -> None:
    page.locator("#q").fill(query)
    page.locator("#q").press("Enter")


def test_page_lists_stored_events(page: Page, server: str, requested: list[str],
                                  events: dict[str, Event]) -> None:
    rows = page.locator("#events tr")
    expect(rows).to_have_count(len(events))
    expect(page.locator("h1")).to_have_text("Liaowang 瞭望")
    expect(rows.first).to_contain_text("10.0.0.2:502 → 10.0.0.1:49152")
    expect(page.locator("#events")).to_contain_text(
        "modbus fc=3 read_holding_registers tid=1 unit=1")
    expect(page.locator("#datasets li").first).to_contain_text("modbus5")
    expect(page.locator("#events")).to_contain_text(HOSTILE)
    assert page.title().startswith("Liaowang")
    assert foreign(requested, server) == []


def test_clicking_a_row_shows_the_event_json(page: Page, server: str, requested: list[str],
                                             events: dict[str, Event]) -> None:
    wanted = events["exception"]
    page.locator(f'#events tr[data-id="{wanted["event"]["id"]}"]').click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-json")).to_contain_text('"exception_name": "illegal_data_address"')
    page.screenshot(path=str(SCREENSHOT))
    assert foreign(requested, server) == []


def test_query_filters_the_table(page: Page, server: str, requested: list[str]) -> None:
    expect(page.locator("#events tr")).to_have_count(7)
    submit_query(page, "modbus.function_code:6")
    expect(page.locator("#events tr")).to_have_count(1)
    expect(page.locator("#events tr")).to_contain_text("fc=6 write_single_register")
    assert "q=modbus.function_code" in page.url
    assert foreign(requested, server) == []


def test_time_range_hides_older_events(page: Page, server: str, requested: list[str]) -> None:
    expect(page.locator("#events tr")).to_have_count(7)
    page.locator("#range").select_option("1h")
    expect(page.locator("#events tr")).to_have_count(6)
    page.locator("#range").select_option("15m")
    expect(page.locator("#events tr")).to_have_count(5)
    assert foreign(requested, server) == []


def test_bad_query_shows_the_api_error(page: Page, server: str, requested: list[str]) -> None:
    detail = httpx.get(f"{server}/api/events", params={"q": BAD_QUERY}).json()["detail"]
    submit_query(page, BAD_QUERY)
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_have_text(detail)
    expect(page.locator("#events tr")).to_have_count(0)
    submit_query(page, "")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#events tr")).to_have_count(7)
    assert foreign(requested, server) == []
