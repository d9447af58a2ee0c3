"""The interactive RCC explorer: a Solara page started with ``sim explore``.

:mod:`sim.explorer.state` turns the page's choices into scenarios, TOML and paired runs
(no Solara, so it is tested without a browser); :mod:`sim.explorer.map` draws England's
LAs from the postcode geography; :mod:`sim.explorer.app` is the page and
:mod:`sim.explorer.server` serves it. The page imports :mod:`sim`, never the reverse.
"""
