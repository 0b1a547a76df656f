"""A real Elasticsearch node for tests: the ``integ-test-zip`` distribution from Maven Central.

:func:`distribution` fetches the zip with the machine's ``mvn`` (kept in the local Maven
repository) and unpacks it under ``.cache/elasticsearch`` (the temporary folder when root);
:class:`Node` starts one node on 127.0.0.1 on free ports with the newest JDK in ``/usr/lib/jvm``
(Elasticsearch 9 needs Java 21+), as an unprivileged user when the tests run as root
(Elasticsearch refuses root), waits until it answers, and stops it. Failures raise
:class:`NodeError` with the reason and the log's tail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.utils.loopback import free_port

VERSION = os.environ.get("LIAOWANG_ES_VERSION", "9.2.4")
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
ROOT = Path(__file__).resolve().parents[2]
# Run as root, the node runs as an unprivileged user, which must reach the distribution: the
# checkout's folders may not let it, the temporary folder does.
CACHE = ROOT / ".cache" / "elasticsearch" if os.geteuid() != 0 else \
    Path(tempfile.gettempdir()) / "liaowang-elasticsearch"
UNPRIVILEGED = 65534   # nobody
MIN_JAVA = 21


class NodeError(RuntimeError):
    """The test node could not be fetched or started."""


def distribution() -> Path:
    """The unpacked distribution's home folder, fetched and unpacked on first use."""
    home = CACHE / f"elasticsearch-{VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    archive = _maven_artifact()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch, zipfile.ZipFile(archive) as zipped:
        zipped.extractall(scratch)
        for member in zipped.infolist():   # zipfile drops the execute bits
            mode = member.external_attr >> 16
            if mode:
                os.chmod(Path(scratch) / member.filename, mode & 0o777)
        os.replace(Path(scratch) / home.name, home)
    return home


def _maven_artifact() -> Path:
    repository = Path.home() / ".m2" / "repository"
    path = (repository / "org/elasticsearch/distribution/integ-test-zip/elasticsearch" /
            VERSION / f"elasticsearch-{VERSION}.zip")
    if path.exists():
        return path
    if shutil.which("mvn") is None:
        raise NodeError("mvn is needed to fetch Elasticsearch from Maven Central")
    done = subprocess.run(["mvn", "-q", "-B", "dependency:get", f"-Dartifact={ARTIFACT}",
                           "-Dtransitive=false"], capture_output=True, text=True)
    if done.returncode != 0 or not path.exists():
        raise NodeError(f"mvn could not fetch {ARTIFACT}:\n{done.stdout[-2000:]}"
                        f"{done.stderr[-2000:]}")
    return path


def java_home() -> Path:
    """The newest JDK under /usr/lib/jvm with ``bin/java`` (or $ES_JAVA_HOME)."""
    if os.environ.get("ES_JAVA_HOME"):
        return Path(os.environ["ES_JAVA_HOME"])
    found = []
    for home in Path("/usr/lib/jvm").glob("*"):
        match = re.search(r"(\d+)", home.name)
        if match and (home / "bin" / "java").exists() and not home.is_symlink():
            found.append((int(match.group(1)), home))
    usable = [home for major, home in sorted(found) if major >= MIN_JAVA]
    if not usable:
        raise NodeError(f"Elasticsearch {VERSION} needs Java {MIN_JAVA}+; /usr/lib/jvm has "
                        f"{sorted(h.name for _, h in found)}")
    return usable[-1]


def answers(url: str) -> bool:
    """Whether the cluster at ``url`` is up, with its shards at least allocated (yellow)."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s",
                                    timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def wait_for(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether the cluster at ``url`` answered within ``timeout_s`` (given up as soon as its
    process is no longer ``alive``)."""
    deadline = time.monotonic() + timeout_s
    while not answers(url):
        if time.monotonic() > deadline or not alive():
            return False
        time.sleep(0.5)
    return True


class Node:
    """One single-node cluster in a private folder, for the length of a test session."""

    def __init__(self, start_timeout_s: float = 240.0) -> None:
        self.home = distribution()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout_s = start_timeout_s
        self.folder = Path(tempfile.mkdtemp(prefix="liaowang-es-"))
        self.log = self.folder / "stdout.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.launch()
        self._wait()
        return self

    def launch(self) -> Node:
        """Start the node's process without waiting for it to answer."""
        config = self.folder / "config"
        shutil.copytree(self.home / "config", config)
        for name in ("data", "logs", "tmp"):
            (self.folder / name).mkdir()
        env = {**os.environ, "ES_JAVA_HOME": str(java_home()), "ES_PATH_CONF": str(config),
               "ES_TMPDIR": str(self.folder / "tmp"), "ES_JAVA_OPTS": "-Xms512m -Xmx512m"}
        command = [str(self.home / "bin" / "elasticsearch"),
                   "-E", f"path.data={self.folder / 'data'}",
                   "-E", f"path.logs={self.folder / 'logs'}",
                   "-E", f"http.port={self.port}", "-E", f"transport.port={free_port()}",
                   "-E", "network.host=127.0.0.1", "-E", "discovery.type=single-node",
                   "-E", "xpack.security.enabled=false",
                   "-E", "cluster.routing.allocation.disk.threshold_enabled=false",
                   "-E", "action.destructive_requires_name=false"]
        user = {}
        if os.geteuid() == 0:
            self._give_to_unprivileged_user()
            user = {"user": UNPRIVILEGED, "group": UNPRIVILEGED, "extra_groups": []}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, **user)
        return self

    def _give_to_unprivileged_user(self) -> None:
        os.chmod(self.folder, 0o755)
        for path in [self.folder, *self.folder.rglob("*")]:
            os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        for path in [self.home, *self.home.rglob("*")]:   # readable, and bin/ executable
            mode = path.stat().st_mode
            os.chmod(path, mode | 0o044 | (0o011 if mode & 0o100 else 0))

    def _wait(self) -> None:
        process = self.process
        assert process is not None
        if wait_for(self.url, self.start_timeout_s, alive=lambda: process.poll() is None):
            return
        if process.poll() is not None:
            raise NodeError(f"Elasticsearch exited with {process.returncode}:\n{self.tail()}")
        self.stop()
        raise NodeError(f"Elasticsearch did not answer within {self.start_timeout_s:.0f} s:\n"
                        f"{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
