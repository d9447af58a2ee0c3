"""A click-to-choose file upload for the page (ipyvuetify's ``FileInput`` wired like
Solara's ``FileDrop``): the browser sends the file in chunks, read in a worker thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import solara
from ipyvuetify.extra import FileInput

log = logging.getLogger(__name__)


@solara.component
def FileUpload(on_file: Callable[[dict[str, Any]], None], accept: str = ".toml") -> Any:
    """Calls ``on_file({"name", "size", "data"})`` once a chosen file has arrived."""
    info, set_info = solara.use_state(None)
    files, set_files = solara.use_state(None)
    element = FileInput.element(multiple=False, accept=accept, on_file_info=set_info)

    def wire() -> None:
        if not info:
            return
        widget = solara.get_widget(element)
        widget.version += 1  # as Solara's FileDrop: observers are cleared on re-render
        widget.reset_stats()
        set_files(widget.get_files())

    solara.use_effect(wire, [info])

    def read(cancel: threading.Event) -> None:
        if files:
            chosen = files[0]
            try:
                data = chosen["file_obj"].read()
            except Exception as err:  # a dropped connection must not end the page
                data = None
                log.warning("upload of %s failed: %s", chosen["name"], err)
            on_file({"name": chosen["name"], "size": chosen["size"], "data": data})

    solara.use_thread(read, [files])
    return element
