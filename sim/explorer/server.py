"""Serve the explorer page with Solara's Starlette app under uvicorn (``sim explore``).

Everything the page needs is local: Solara's front end comes from the ``solara-assets``
package (no CDN), its telemetry is switched off, and nothing else is fetched.
"""

from __future__ import annotations

import os
import socket
import warnings

from sim.errors import SimInputError

APP = "sim.explorer.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def check_port(host: str, port: int) -> None:
    """A one-line error if the port is out of range or already taken."""
    if not 0 < port < 65536:
        raise SimInputError(f"--port: {port} is out of range; allowed 1-65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise SimInputError(f"--host: cannot resolve {host!r}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise SimInputError(f"--port: cannot listen on {host}:{port} ({err.strerror}); "
                                "choose another port with --port") from None


def warm() -> None:
    """Load the geography, presets and England's map grid before the first visitor."""
    from sim.explorer import map as lamap
    from sim.explorer.state import presets

    presets()
    lamap.la_raster(*lamap.view(None))


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run the explorer until interrupted (Ctrl+C)."""
    check_port(host, port)
    os.environ["SOLARA_APP"] = APP
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")
    warm()
    shown = f"[{host}]" if ":" in host else host
    print(f"RCC explorer: http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")
