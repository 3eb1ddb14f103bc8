"""Gunicorn config for local deployments: azmlinfsrv hard-codes 0.0.0.0, which would put a
laptop's model servers on every network it joins. Rebind to loopback before the sockets open."""

from __future__ import annotations

from typing import Any


def on_starting(server: Any) -> None:
    binds = [address.replace("0.0.0.0:", "127.0.0.1:") for address in server.cfg.bind]
    server.cfg.set("bind", binds)
