"""Debian's nginx running the compose load balancer's config (``nginx/inference-lb.conf``) as a process.

The config is a ``conf.d`` file of the nginx image; the image's main ``nginx.conf`` includes it inside
``http {}``. Here a minimal main config does the same, with its pid file, logs and temporary files under a
prefix folder, in the foreground. Two lines of the compose file name what only exists inside Docker and are
replaced, each checked to be there exactly once: the ``resolver`` (Docker's DNS at 127.0.0.11, here a
stand-in's address) and the ``listen`` port (8001, here a free loopback port).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.paths import REPO_ROOT

NGINX = Path("/usr/sbin/nginx")
LB_CONFIG = REPO_ROOT / "nginx" / "inference-lb.conf"

#: The two container-only lines: (pattern, what the replacement keeps from the match).
RESOLVER = re.compile(r"^resolver 127\.0\.0\.11(?P<rest>\s.*;)$", re.M)
LISTEN = re.compile(r"^(?P<indent>\s+)listen 8001;$", re.M)


def localized_config(resolver: str, listen: str) -> str:
    """``inference-lb.conf`` with Docker's resolver replaced by ``resolver`` and its port by ``listen``."""
    text = LB_CONFIG.read_text()
    for pattern in (RESOLVER, LISTEN):
        found = len(pattern.findall(text))
        assert found == 1, f"{LB_CONFIG.name}: expected one line matching {pattern.pattern!r}, found {found}"
    text = RESOLVER.sub(lambda m: f"resolver {resolver}{m['rest']}", text)
    return LISTEN.sub(lambda m: f"{m['indent']}listen {listen};", text)


def write_prefix(prefix: Path, server_config: str) -> Path:
    """A prefix folder for ``nginx -p`` whose main config includes ``server_config``; that config's path."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "conf.d").mkdir(exist_ok=True)
    (prefix / "conf.d" / "default.conf").write_text(server_config)
    main = prefix / "nginx.conf"
    main.write_text(
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'logs' / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        # which replica answered each request, and what the ones tried before it answered
        "    log_format lb '$msec|$status|$upstream_addr|$upstream_status|$request_time';\n"
        f"    access_log {prefix / 'logs' / 'access.log'} lb;\n"
        f"    client_body_temp_path {prefix / 'client_body'};\n"
        f"    proxy_temp_path {prefix / 'proxy'};\n"
        f"    include {prefix / 'conf.d' / '*.conf'};\n"
        "}\n"
    )
    return main


def command(prefix: Path, main_config: Path) -> list[str]:
    """nginx in the foreground with ``main_config`` (errors before the config is read go to stderr)."""
    return [str(NGINX), "-p", str(prefix), "-c", str(main_config), "-e", str(prefix / "logs" / "error.log")]


def version() -> str:
    """``nginx/1.22.1``: what ``nginx -v`` says (on stderr)."""
    said = subprocess.run([str(NGINX), "-v"], capture_output=True, text=True, check=True).stderr
    return said.strip().removeprefix("nginx version: ")


@dataclass(frozen=True)
class Access:
    """One line of the access log: when (epoch seconds), the client's status, each replica tried in order."""

    at: float
    status: int
    upstreams: tuple[str, ...]  # host:port of every replica tried, in order
    upstream_statuses: tuple[str, ...]  # what each answered ("502" when it could not be reached)


def access_log(prefix: Path) -> list[Access]:
    """The access log written under ``prefix`` (``log_format lb`` of :func:`write_prefix`)."""
    entries = []
    for line in (prefix / "logs" / "access.log").read_text().splitlines():
        at, status, upstreams, statuses, _ = line.split("|")
        entries.append(
            Access(float(at), int(status), tuple(upstreams.split(", ")), tuple(statuses.split(", ")))
        )
    return entries


def error_log(prefix: Path) -> str:
    """The error log written under ``prefix`` (``info`` and above)."""
    return (prefix / "logs" / "error.log").read_text()
