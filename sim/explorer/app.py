"""The RCC explorer page (Solara). Start it with ``sim explore``.

Layout only: every decision about a configuration is made in :mod:`sim.explorer.state`,
figures are drawn by :mod:`sim.explorer.map` and :mod:`sim.explorer.charts`. A run
goes on in a background thread (:func:`solara.lab.task`); Cancel makes the model's
progress callback raise. Every handler turns bad input into a message on the page, so
nothing a user types can stop the server.
"""

from __future__ import annotations

import functools
import html
import logging
import math
from collections.abc import Callable
from typing import Any

import reacton.ipyvuetify as rv
import solara
import solara.lab

from sim.errors import SimInputError
from sim.explorer import charts
from sim.explorer import map as lamap
from sim.explorer.state import (
    AREAS,
    LA_METRICS,
    MAX_YEARS,
    OUTCOMES,
    Comparison,
    ExplorerConfig,
    ExplorerError,
    ParamSpec,
    format_value,
    from_toml,
    la_options,
    param_specs,
    parse_number,
    parse_seeds,
    parse_value,
    policy_names,
    policy_summary,
    presets,
    run_comparison,
)
from sim.explorer.upload import FileUpload
from sim.geography import load_geography

log = logging.getLogger(__name__)

config = solara.reactive(ExplorerConfig())
error = solara.reactive("")
notes: solara.Reactive[tuple[str, ...]] = solara.reactive(())
progress = solara.reactive(0)
status = solara.reactive("")
paste = solara.reactive("")
last_preset = solara.reactive("greater_manchester")
map_metric = solara.reactive("Sufficiency")
map_arm = solara.reactive("Configuration")
map_view = solara.reactive("Run area")
flow_arm = solara.reactive("Configuration")

METRIC_KEYS = {"Sufficiency": "sufficiency", "Distance": "distance", "> 20 miles": "far",
               "Cost": "cost"}
INTRO = (
    "<h2>RCC explorer</h2><p>Try a <b>Regional Care Cooperative</b> before it is set up: "
    "choose a pathfinder, a region or your own LAs, switch policies and their parameters, "
    "and run the placement-market model on the cooperative's area. Each seed is run twice, "
    "<b>with and without</b> the policies (the baseline), so differences are paired; "
    "intervals are 95% t-intervals over seeds. Small runs (the members and a few "
    "neighbours, scale 1, two years, two seeds) take about a minute.</p>"
)
SMALL = {"font-size": "0.85em"}
TABLE_CSS = (
    "<style>.explorer-table{border-collapse:collapse;margin:4px 0 12px 0}"
    ".explorer-table th,.explorer-table td{padding:2px 8px;border-bottom:1px solid #ddd}"
    ".explorer-table td.n{text-align:right;font-variant-numeric:tabular-nums}</style>"
)


def Html(markup: str, style: dict[str, str] | None = None, classes: list[str] | None = None):
    """Trusted HTML built here (no Markdown: Solara's Markdown fetches KaTeX from a CDN)."""
    return solara.HTML(tag="div", unsafe_innerHTML=markup, style=style or {},
                       classes=classes or [])


def esc(text: object) -> str:
    return html.escape(str(text))


def update(new: ExplorerConfig) -> None:
    """Swap in a new configuration and clear the last error."""
    config.set(new)
    error.set("")


def guarded(handler: Callable[..., Any]) -> Callable[..., None]:
    """A handler whose bad input becomes a message on the page, never an exception."""

    @functools.wraps(handler)
    def run(*args: Any) -> None:
        try:
            handler(*args)
        except SimInputError as err:
            error.set(str(err))
        except Exception as err:  # the page must survive anything a user does
            log.exception("explorer handler failed")
            error.set(f"Unexpected error: {type(err).__name__}: {err}")

    return run


def la_names(codes: tuple[str, ...]) -> str:
    geo = load_geography()
    return ", ".join(geo.la(c).name for c in codes)


@solara.lab.task(prefer_threaded=True)
def run_task(cfg: ExplorerConfig) -> Comparison:
    """Both arms on every seed, in a background thread."""
    last = [-1]

    def report(fraction: float, message: str) -> None:
        pct = int(100 * fraction)
        if pct != last[0]:
            last[0] = pct
            progress.set(pct)
            status.set(message)

    return run_comparison(cfg, report, lambda: not run_task.is_current())


# -- controls --------------------------------------------------------------------------
@solara.component_vue("picker.vue")
def MapPicker(src: str, labels: str, rows: int, cols: int, names: list[str],
              event_pick: Callable[[dict], None]) -> None:
    """The picking map (an image in a Vue template) and its grid (:func:`map.picker_labels`,
    to name the LA under the pointer); ``event_pick`` gets each click as
    ``{"x": ..., "y": ...}``, fractions of the image's width and height."""


@solara.component
def CooperativeCard() -> None:
    cfg = config.value
    all_presets = presets()

    def set_mode(mode: str) -> None:
        now = config.value
        if mode == "Preset" and not now.preset:
            update(now.replace(preset=last_preset.value))
        elif mode == "Pick LAs" and now.preset:
            last_preset.set(now.preset)
            update(now.replace(preset=""))

    def choose(label: str) -> None:
        key = next(k for k, p in all_presets.items() if p.label == label)
        last_preset.set(key)
        update(config.value.replace(preset=key))

    def edit_members() -> None:
        now = config.value
        preset = all_presets[now.preset]
        last_preset.set(now.preset)
        update(now.replace(preset="", members=preset.members,
                           cooperative_name=preset.cooperative_name))

    def pick(click: dict) -> None:
        code = lamap.la_at(float(click["x"]), float(click["y"]))
        if code is not None:  # the sea
            update(config.value.toggle_member(code))

    with solara.Card("1. Cooperative", margin=0, classes=["mb-3"]):
        solara.Checkbox(label="Regional Care Cooperative switched on", value=cfg.rcc_on,
                        on_value=guarded(lambda v: update(config.value.switch("rcc", v))))
        solara.ToggleButtonsSingle(value="Preset" if cfg.preset else "Pick LAs",
                                   values=["Preset", "Pick LAs"], on_value=guarded(set_mode))
        if cfg.preset:
            current = all_presets[cfg.preset].label if cfg.preset in all_presets else None
            solara.Select(label="Preset", value=current,
                          values=[p.label for p in all_presets.values()],
                          on_value=guarded(choose))
            solara.Button("Edit these members", text=True, small=True,
                          on_click=guarded(edit_members))
        else:
            items = [{"text": label, "value": code} for code, label in la_options()]
            rv.Autocomplete(
                label="Member LAs (type to search)", items=items, v_model=list(cfg.members),
                multiple=True, chips=True, small_chips=True, deletable_chips=True,
                clearable=True, dense=True,
                on_v_model=guarded(lambda v: update(config.value.replace(
                    members=tuple(v or ())))))
            labels, rows, cols, names = lamap.picker_labels()
            MapPicker(src=lamap.picker_png(tuple(cfg.members)), labels=labels, rows=rows,
                      cols=cols, names=names, event_pick=guarded(pick))
            Html("Click an LA on the map to add it, click it again to take it out.", SMALL)
            solara.InputText("Cooperative name", value=cfg.cooperative_name,
                             on_value=guarded(lambda v: update(
                                 config.value.replace(cooperative_name=v))))
        try:
            codes = cfg.member_codes()
            Html(f"<b>Members ({len(codes)}):</b> {esc(la_names(codes))}", SMALL,
                 ["explorer-members"])
        except SimInputError as err:
            solara.Warning(str(err), dense=True)


@solara.component
def ParamField(policy: str, spec: ParamSpec, value: Any) -> None:
    """One parameter: a checkbox, a choice, or a text field checked when it is left."""
    problem, set_problem = solara.use_state("")

    def commit(new: Any) -> None:
        set_problem("")
        update(config.value.set_param(policy, spec.key, new))

    def on_text(text: str) -> None:
        try:
            if spec.kind in ("int", "float"):
                new = parse_number(spec, text, policy)
            else:
                new = parse_value(spec, text, policy)
        except ExplorerError as err:
            set_problem(str(err))
            return
        commit(new)

    if spec.kind == "bool":
        solara.Checkbox(label=spec.label, value=bool(value), on_value=guarded(commit))
    elif spec.kind == "choice":
        solara.Select(label=spec.label, value=value, values=list(spec.choices),
                      on_value=guarded(commit))
    else:
        if spec.kind in ("list", "table"):
            text = format_value(spec, value)
        else:
            text = f"{value:.10g}" if isinstance(value, float) else str(value)
        solara.InputText(spec.label, value=text, on_value=guarded(on_text),
                         message=spec.hint or None, error=problem or False)


@solara.component
def PolicyParams(name: str) -> None:
    cfg = config.value
    with solara.Div(style={"display": "grid", "grid-template-columns": "1fr 1fr",
                           "column-gap": "14px", "align-items": "start"}):
        for spec in param_specs(name):
            ParamField(name, spec, cfg.param(name, spec.key))


@solara.component
def PoliciesCard() -> None:
    cfg = config.value
    with solara.Card("2. Policies", margin=0, classes=["mb-3"]):
        if cfg.rcc_on:
            with solara.Details("RCC functions, costs and frictions"):
                PolicyParams("rcc")
        Html("Other policies, switched on across the whole run area:", SMALL)
        for name in policy_names():
            if name == "rcc":
                continue
            on = name in cfg.enabled
            solara.Checkbox(label=f"{name}: {policy_summary(name)}", value=on,
                            on_value=guarded(lambda v, n=name: update(
                                config.value.switch(n, v))))
            if on:
                with solara.Details(f"{name} parameters", expand=False):
                    PolicyParams(name)


@solara.component
def RunCard() -> None:
    cfg = config.value
    pending = run_task.pending

    def set_number(key: str, text: str) -> None:
        try:
            value = float(text)
        except ValueError:
            raise ExplorerError(f"{key}: {text!r} is not a number") from None
        if key == "neighbours":
            if not value.is_integer():
                raise ExplorerError(f"neighbours: {text!r} is not a whole number")
            update(config.value.replace(neighbours=int(value)))
        else:
            update(config.value.replace(**{key: value}))

    def set_area(label: str) -> None:
        key = next(k for k, v in AREAS.items() if v == label)
        update(config.value.replace(area=key))

    def start() -> None:
        cfg_now = config.value
        _, _, found = cfg_now.check()
        error.set("")
        notes.set(tuple(found))
        progress.set(0)
        status.set("starting")
        run_task(cfg_now)

    def cancel() -> None:
        if run_task.pending:
            run_task.cancel()

    with solara.Card("3. Run", margin=0, classes=["mb-3"]):
        with solara.Row():
            solara.InputText("Scale", value=f"{cfg.scale:g}",
                             on_value=guarded(lambda t: set_number("scale", t)),
                             message="share of England's children and supply, (0, 1]")
            solara.InputText("Years", value=f"{cfg.years:g}",
                             on_value=guarded(lambda t: set_number("years", t)),
                             message=f"from 31 March 2019, at most {MAX_YEARS:g}")
            solara.InputText("Seeds", value=", ".join(str(s) for s in cfg.seeds),
                             on_value=guarded(lambda t: update(
                                 config.value.replace(seeds=parse_seeds(t)))),
                             message="e.g. 1, 2 or 1-5")
        areas = [v for k, v in AREAS.items() if k != "listed" or cfg.listed_las]
        solara.Select(label="Run area", value=AREAS.get(cfg.area), values=areas,
                      on_value=guarded(set_area))
        if cfg.area == "neighbours":
            solara.InputText("Neighbouring LAs", value=str(cfg.neighbours),
                             on_value=guarded(lambda t: set_number("neighbours", t)),
                             message="the nearest non-member LAs, whose homes and carers "
                             "members also use")
        problem = ""
        try:
            cfg.check()
            n_las = len(cfg.run_las()) or len(load_geography().las)
            runs = 2 * len(cfg.seeds)
            Html(f"{runs} model runs (baseline and configuration × {len(cfg.seeds)} seeds) "
                 f"of {n_las} LAs, {cfg.years:g} years each, at scale {cfg.scale:g}.", SMALL)
            if n_las > 40 and cfg.scale > 0.2:
                solara.Warning("A large area at this scale takes minutes per run: try a "
                               "scale of 0.1 first.", dense=True)
        except SimInputError as err:
            problem = str(err)
            solara.Warning(f"Fix before running: {problem}", dense=True)
        with solara.Row():
            solara.Button("Run", color="primary", on_click=guarded(start), disabled=pending)
            solara.Button("Cancel", on_click=guarded(cancel), disabled=not pending)


@solara.component
def ScenarioFileCard() -> None:
    cfg = config.value
    key = repr(cfg)

    def export() -> tuple[str, str]:
        try:
            return cfg.to_toml(), ""
        except SimInputError as err:
            return "", str(err)

    text, problem = solara.use_memo(export, dependencies=[key])

    def load(data: str, name: str) -> None:
        new, found = from_toml(data, name)
        update(new)
        notes.set((f"Imported {name}.", *found))

    def on_file(info: dict) -> None:
        data = info.get("data")
        if data is None:
            raise ExplorerError(f"{info.get('name')}: the upload did not arrive; try again")
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ExplorerError(f"{info.get('name')}: not a UTF-8 text file") from None
        load(decoded, str(info.get("name", "uploaded file")))

    with solara.Card("4. Scenario file", margin=0, classes=["mb-3"]):
        if text:
            filename = f"{cfg.name or 'rcc_explorer'}.toml".replace(" ", "_")
            solara.FileDownload(text, filename=filename, label="Export scenario TOML",
                                mime_type="application/toml")
            Html(f"Runs with <code>sim run {esc(filename)} --years {cfg.years:g}</code>.", SMALL)
            with solara.Details("Show the TOML"):
                solara.Preformatted(text)
        else:
            solara.Warning(f"Cannot export until this is fixed: {problem}", dense=True)
        Html("<b>Import</b> a scenario file: choose it, drop it, or paste it.")
        FileUpload(on_file=guarded(on_file))
        solara.FileDrop(label="…or drop a .toml file here", on_file=guarded(on_file),
                        lazy=False)
        solara.InputTextArea("Paste TOML here", value=paste, rows=4, continuous_update=True)
        solara.Button("Load pasted TOML", small=True,
                      on_click=guarded(lambda: load(paste.value, "pasted TOML")))


# -- results ---------------------------------------------------------------------------
@solara.component
def Messages() -> None:
    if error.value:
        with solara.Row(style={"align-items": "center"}):
            solara.Error(error.value, classes=["explorer-error"])
            solara.Button("Dismiss", text=True, small=True, on_click=lambda: error.set(""))
    for note in notes.value:
        solara.Info(note, dense=True)


@solara.component
def RunStatus() -> None:
    if run_task.pending:
        solara.ProgressLinear(value=progress.value)
        solara.Text(f"{progress.value}% · {status.value}", classes=["explorer-status"])
    elif run_task.cancelled:
        solara.Warning("Run cancelled: nothing was kept from it.")
    elif run_task.error:
        err = run_task.exception
        text = str(err) if isinstance(err, SimInputError) else (
            f"The run failed: {type(err).__name__}: {err}")
        solara.Error(text)


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "–"
    if unit in ("£/week", "£m"):
        return f"{value:,.1f}" if unit == "£m" else f"{value:,.0f}"
    return f"{value:,.1f}" if unit != "%" else f"{value:.1f}"


def _signed(value: float, unit: str) -> str:
    text = _fmt(value, unit)
    return text if text.startswith(("-", "–")) else f"+{text}"


@solara.component
def SummaryTable(comp: Comparison) -> None:
    table = solara.use_memo(comp.summary, dependencies=[id(comp)])
    order = [label for _, label, _ in OUTCOMES]
    for group in ("RCC members", "Run area"):
        rows = table[table["group"] == group]
        if rows.empty:
            continue
        n_las = len(comp.members) if group == "RCC members" else len(comp.area)
        head = "".join(f"<th>{h}</th>" for h in ("outcome", "unit", "baseline",
                                                  "configuration", "difference",
                                                  "95% interval"))
        body = []
        for row in sorted(rows.itertuples(), key=lambda r: order.index(r.outcome)):
            interval = (f"{_signed(row.ci_low, row.unit)} to {_signed(row.ci_high, row.unit)}"
                        if math.isfinite(row.ci_low) else "one seed: none")
            cells = [esc(row.outcome), esc(row.unit)]
            numbers = [_fmt(row.baseline, row.unit), _fmt(row.configuration, row.unit),
                       _signed(row.difference, row.unit), interval]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells)
                        + "".join(f'<td class="n">{esc(c)}</td>' for c in numbers) + "</tr>")
        Html(f"<b>{esc(group)}</b> ({n_las} LAs), at the end of the run"
             f'<table class="explorer-table explorer-summary"><tr>{head}</tr>'
             + "".join(body) + "</table>", SMALL)
    fig = solara.use_memo(lambda: charts.difference_figure(table), dependencies=[id(comp)])
    solara.FigureMatplotlib(fig, dependencies=[id(comp)], format="png")


@solara.component
def MapPanel(comp: Comparison) -> None:
    metric = METRIC_KEYS[map_metric.value]
    arm = map_arm.value
    zoom = map_view.value == "Run area"

    def draw():
        frame = comp.la_difference() if arm == "Difference" else comp.la_metrics(arm.lower())
        values = dict(zip(frame["la"], frame[metric].astype(float), strict=True))
        name, unit = LA_METRICS[metric]
        diff = arm == "Difference"
        return lamap.choropleth(
            values, title=f"{name} at the end of the run: {arm.lower()}"
            + (" − baseline" if diff else ""),
            label=f"{unit}{', configuration − baseline' if diff else ''}",
            groups=comp.config.cooperatives(), area=comp.area if zoom else None,
            higher_is_better=metric == "sufficiency", difference=diff,
            fmt="{:.1f}" if diff or metric == "distance" else "{:.0f}")

    deps = [id(comp), metric, arm, zoom]
    fig = solara.use_memo(draw, dependencies=deps)
    with solara.Card("Map: LAs of the run area", margin=0, classes=["mb-3"]):
        with solara.Row(style={"flex-wrap": "wrap", "gap": "6px"}):
            solara.ToggleButtonsSingle(value=map_metric, values=list(METRIC_KEYS), dense=True)
            solara.ToggleButtonsSingle(value=map_arm,
                                       values=["Configuration", "Baseline", "Difference"],
                                       dense=True)
            solara.ToggleButtonsSingle(value=map_view, values=["Run area", "England"],
                                       dense=True)
        solara.FigureMatplotlib(fig, dependencies=deps, format="png")
        Html("Colours: mean over seeds at the last snapshot. Shapes come from each LA's "
             "postcodes; members are outlined in black; grey LAs are outside the run.", SMALL)


@solara.component
def FlowPanel(comp: Comparison) -> None:
    arm = flow_arm.value.lower()
    flows = solara.use_memo(lambda: comp.flows(arm), dependencies=[id(comp), arm])
    deps = [id(comp), arm]
    fig = solara.use_memo(lambda: lamap.flow_map(
        flows, title=f"Children placed outside their own LA at the end: {arm}",
        groups=comp.config.cooperatives(), area=comp.area, members=comp.members, top=25),
        dependencies=deps)
    geo = load_geography()
    with solara.Card("Out-of-area flows", margin=0, classes=["mb-3"]):
        solara.ToggleButtonsSingle(value=flow_arm, values=["Configuration", "Baseline"],
                                   dense=True)
        solara.FigureMatplotlib(fig, dependencies=deps, format="png")
        top = [f"{geo.la(r.home).name} → {geo.la(r.placed).name}: {r.children:.1f}"
               for r in flows.head(8).itertuples()]
        Html("Largest flows (children, mean over seeds): " + esc("; ".join(top)), SMALL)


@solara.component
def SeriesPanel(comp: Comparison) -> None:
    fig = solara.use_memo(lambda: charts.series_figure(comp), dependencies=[id(comp)])
    with solara.Card("Time series", margin=0, classes=["mb-3"]):
        solara.FigureMatplotlib(fig, dependencies=[id(comp)], format="png")


@solara.component
def Results() -> None:
    comp = run_task.latest if not run_task.not_called else None
    if comp is None:
        if not run_task.pending:
            solara.Info("Choose a cooperative and press Run: results appear here.")
        return
    seeds = ", ".join(str(s) for s in comp.seeds)
    old = " (previous run)" if run_task.pending else ""
    Html(f"<h3>Results{old}: configuration against baseline</h3>"
         f"{len(comp.area)} LAs, scale {comp.config.scale:g}, {comp.config.years:g} years, "
         f"seeds {seeds}; {len(comp.runs)} runs in {comp.seconds:.0f} s.",
         classes=["explorer-results"])
    with solara.Card("Configuration against baseline", margin=0, classes=["mb-3"]):
        SummaryTable(comp)
    MapPanel(comp)
    FlowPanel(comp)
    SeriesPanel(comp)


@solara.component
def Page() -> None:
    solara.Title("RCC explorer · care-market-sim")
    with solara.Column(style={"padding": "8px 20px", "max-width": "1600px"}):
        Html(INTRO + TABLE_CSS)
        with solara.Columns([5, 7]):
            with solara.Column():
                CooperativeCard()
                PoliciesCard()
                RunCard()
                ScenarioFileCard()
            with solara.Column():
                with solara.Column(style={"position": "sticky", "top": "0", "z-index": "5",
                                          "background": "white"}):
                    Messages()
                    RunStatus()
                Results()
