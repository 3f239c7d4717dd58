"""The listening socket, bound before anything is printed: a taken port is the one message."""

from __future__ import annotations

import os
import socket


class CannotListen(Exception):
    """The address cannot be bound; the message says what to do."""


def listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family)
    except socket.gaierror as error:
        raise CannotListen(f"cannot listen on {host}:{port}: unknown host ({error})") from None
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        hint = "; pick a free one with --port" if "in use" in reason else ""
        raise CannotListen(f"cannot listen on {host}:{port}: {reason.lower()}{hint}") from None
    sock.set_inheritable(True)
    return sock
