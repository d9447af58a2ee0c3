"""The RCC explorer: its configuration logic without a browser, then the page itself in
headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright)."""

from __future__ import annotations

import base64
import io
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.cli import main
from sim.errors import ScenarioError, SimInputError
from sim.explorer.state import (
    ArmRun,
    Comparison,
    ExplorerConfig,
    ExplorerError,
    RunCancelled,
    format_value,
    from_toml,
    nearest_neighbours,
    param_specs,
    parse_number,
    parse_seeds,
    parse_value,
    presets,
    run_comparison,
)
from sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
GREATER_MANCHESTER = tuple(f"E080000{i:02d}" for i in range(1, 11))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOT = REPO / "results" / "explorer" / "screenshot.png"


# -- presets and run areas ---------------------------------------------------------------
def test_greater_manchester_preset_is_the_pathfinders_ten_las() -> None:
    cfg = ExplorerConfig(preset="greater_manchester")
    assert cfg.member_codes() == GREATER_MANCHESTER
    assert cfg.membership() == {"preset": "greater_manchester"}
    assert cfg.cooperatives() == (("Greater Manchester", GREATER_MANCHESTER),)


def test_region_presets_cover_each_region_and_all_regions_cover_england(geography) -> None:
    every = presets()
    for region in geography.regions:
        key = "region_" + region.lower().replace(" ", "_")
        codes = tuple(la.ons_code for la in geography.in_region(region))
        cfg = ExplorerConfig(preset=key)
        assert cfg.member_codes() == codes
        assert cfg.membership() == {"members": list(codes), "cooperative_name": f"{region} RCC"}
    national = ExplorerConfig(preset="regions")
    assert len(every["regions"].groups) == 9
    assert sorted(national.member_codes()) == sorted(la.ons_code for la in geography.las)
    assert national.membership() == {"preset": "regions"}
    assert national.run_las() == ()  # all of England


def test_run_area_is_the_members_and_their_nearest_neighbours(geography) -> None:
    cfg = ExplorerConfig(neighbours=3)
    las = cfg.run_las()
    assert las[:10] == GREATER_MANCHESTER
    extra = las[10:]
    assert len(extra) == 3 and not set(extra) & set(GREATER_MANCHESTER)
    d = geography.centroid_distance_matrix()
    idx = [geography.la(c).index for c in GREATER_MANCHESTER]
    near = d[idx].min(axis=0)
    chosen = max(near[geography.la(c).index] for c in extra)
    others = [near[la.index] for la in geography.las
              if la.ons_code not in las]
    assert chosen <= min(others)
    assert ExplorerConfig(area="members").run_las() == GREATER_MANCHESTER
    assert nearest_neighbours(GREATER_MANCHESTER, 0) == ()


# -- scenario files ----------------------------------------------------------------------
def _edited() -> ExplorerConfig:
    return (ExplorerConfig(scale=0.5, years=1.5, seeds=(3, 4), neighbours=2)
            .set_param("rcc", "negotiation_strength", 0.8)
            .set_param("rcc", "local_knowledge_loss", 0.25)
            .set_param("rcc", "start", 2020.25)
            .switch("family_help", True)
            .set_param("family_help", "entry_reduction", 0.1))


def test_exported_toml_is_the_same_scenario_for_sim_run_and_the_page(tmp_path) -> None:
    cfg = _edited()
    expected = cfg.check()[0].to_dict()
    path = tmp_path / "rcc.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    assert load_scenario(path).to_dict() == expected
    back, notes = from_toml(path.read_text(encoding="utf-8"), str(path))
    assert notes == []
    assert back.check()[0].to_dict() == expected
    assert (back.preset, back.area, back.neighbours, back.years, back.seeds, back.scale) == (
        "greater_manchester", "neighbours", 2, 1.5, (3, 4), 0.5)
    assert back.enabled == ("rcc", "family_help")
    assert back.param("rcc", "negotiation_strength") == 0.8


def test_custom_members_and_region_presets_survive_the_round_trip() -> None:
    custom = ExplorerConfig(preset="", members=("Bolton", "E08000003"),
                            cooperative_name="Two towns", area="members")
    back, _ = from_toml(custom.to_toml())
    assert (back.preset, back.members, back.cooperative_name) == (
        "", ("E08000001", "E08000003"), "Two towns")
    assert back.check()[0].to_dict() == custom.check()[0].to_dict()
    region = ExplorerConfig(preset="region_north_east", area="members")
    back, _ = from_toml(region.to_toml())
    assert (back.preset, back.area) == ("region_north_east", "members")


def test_import_keeps_parameter_overrides_and_listed_las(tmp_path) -> None:
    text = """
name = "pathfinder"
scale = 0.2
only_las = ["E06000035", "E06000036", "E10000014"]
[prices]
ifa_cost = 700.0
[[policies]]
name = "rcc"
preset = "south_east"
start = 2025.5
[[policies]]
name = "rcc"
preset = "greater_manchester"
"""
    cfg, notes = from_toml(text, "pathfinder.toml")
    assert cfg.preset == "south_east" and cfg.area == "listed"
    assert cfg.listed_las == ("E06000035", "E06000036", "E10000014")
    assert cfg.param("rcc", "start") == 2025.5
    assert any("one rcc block" in n for n in notes)
    path = tmp_path / "again.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    again = load_scenario(path)
    assert again.prices.ifa_cost == 700.0
    assert again.only_las == cfg.listed_las
    assert again.scale == 0.2


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "kind", "message"), [
    (lambda: ExplorerConfig(preset="", members=()).check(), ExplorerError,
     "RCC members: no LAs chosen"),
    (lambda: ExplorerConfig().set_param("rcc", "negotiation_strength", 2.0).check(),
     ScenarioError, r"policies\[0\] \(rcc\)\.negotiation_strength: 2\.0 is out of range; "
     r"allowed a number in \[0, 1\]"),
    (lambda: ExplorerConfig().set_param("rcc", "home_places", 4.5).check(), ScenarioError,
     "home_places: expected a whole number"),
    (lambda: ExplorerConfig(scale=3.0).check(), ScenarioError, "scale: 3.0 is out of range"),
    (lambda: ExplorerConfig(years=0.0).check(), ExplorerError, "years: 0.0 is out of range"),
    (lambda: ExplorerConfig(seeds=()).check(), ExplorerError, "seeds: none given"),
    (lambda: ExplorerConfig(preset="", members=("Wessex",)).check(), SimInputError,
     "unknown local authority 'Wessex'"),
    (lambda: ExplorerConfig(area="listed").check(), ExplorerError, "lists no LAs"),
    (lambda: parse_seeds("1, two"), ExplorerError, "seeds: 'two' is not a whole number"),
    (lambda: parse_number(param_specs("rcc")[1], "lots", "rcc"), ExplorerError,
     "is not a number"),
    (lambda: parse_value(next(s for s in param_specs("fostering_programme")
                              if s.key == "rollout"), "{North East = }", "fostering_programme"),
     ExplorerError, "not a TOML inline table"),
    (lambda: from_toml("name = [", "x.toml"), ScenarioError, "x.toml: not valid TOML"),
    (lambda: from_toml('[[policies]]\nname = "rcc"\nmembers_file = "g.csv"\npreset = ""\n'),
     SimInputError, "members_file"),
    (lambda: from_toml('[prices]\nifa_cost = -1\n', "bad.toml"), ScenarioError,
     r"bad.toml: prices.ifa_cost: -1 is out of range"),
])
def test_bad_input_is_one_line_naming_the_field_and_what_is_allowed(make, kind, message):
    with pytest.raises(kind, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_widgets_follow_each_policys_declared_defaults_and_ranges() -> None:
    from sim.policies import REGISTRY

    for name, cls in REGISTRY.items():
        specs = param_specs(name)
        keys = [s.key for s in specs]
        membership = {"preset", "members", "members_file", "cooperative_name"}
        wanted = [k for k in cls.defaults if not (name == "rcc" and k in membership)]
        assert keys == ["start", *wanted]
        for spec in specs[1:]:
            lo, hi, unit = cls.ranges.get(spec.key, (None, None, ""))
            assert (spec.lo, spec.hi, spec.unit) == (lo, hi, unit)
            if spec.kind in ("list", "table"):
                text = format_value(spec, spec.default)
                assert parse_value(spec, text, name) == spec.default


# -- runs --------------------------------------------------------------------------------
def _arm_run(arm: str, seed: int, well: float, away: float) -> ArmRun:
    las = pd.DataFrame({
        "la": ["E08000001", "E06000007"], "la_name": ["Bolton", "Warrington"],
        "children": [100.0, 50.0], "placed": [90.0, 45.0], "well": [well, 40.0],
        "far": [9.0, 5.0], "outside_la": [30.0, 10.0], "distance_sum": [540.0, 300.0],
        "emergency": [1.0, 0.0], "spend": [80_000.0, 40_000.0]})
    flows = pd.DataFrame({"home": ["E08000001", "E08000001"],
                          "placed": ["E08000001", "E06000007"], "children": [90 - away, away]})
    national = pd.DataFrame({"year": [2019.25, 2019.27], "sufficiency": [0.8, 0.81],
                             "share_far_20_miles": [0.1, 0.1],
                             "total_spend": [120_000.0, 120_000.0], "emergency": [1, 1]})
    return ArmRun(arm, seed, national, las, flows, 1e6, 0.0)


def test_every_la_can_be_picked_on_the_map_and_the_sea_picks_none(geography) -> None:
    from sim.explorer.map import la_at, picker_labels

    cells, rows, cols, names = picker_labels()  # what the page names the LA under the pointer from
    grid = np.frombuffer(base64.b64decode(cells), dtype=np.uint8).reshape(rows, cols)
    for la in geography.las:
        x, y = _map_position(la.ons_code)
        assert la_at(x, y) == la.ons_code, la.name
        assert names[grid[int(y * rows), int(x * cols)]] == la.name
    assert la_at(0.01, 0.01) is None  # the North Sea, top left is west of Cornwall's tip
    assert la_at(1.0, 0.5) is None and la_at(-0.1, 0.5) is None  # off the image


def test_a_map_click_adds_an_la_then_takes_it_out_and_the_map_shows_it() -> None:
    from matplotlib import image

    from sim.explorer.map import PICKED, PICKER_ZOOM, picker_png

    def colour_at(members: tuple[str, ...], code: str) -> str:
        data = picker_png(members).split(",", 1)[1]
        rgb = image.imread(io.BytesIO(base64.b64decode(data)), format="png")
        x, y = _map_position(code)
        rows, cols = rgb.shape[0] // PICKER_ZOOM, rgb.shape[1] // PICKER_ZOOM
        pixel = rgb[int(y * rows) * PICKER_ZOOM, int(x * cols) * PICKER_ZOOM, :3]
        return "#" + "".join(f"{round(255 * v):02x}" for v in pixel)

    cfg = ExplorerConfig(preset="", members=("E08000001",))
    added = cfg.toggle_member("E08000003")
    assert added.members == ("E08000001", "E08000003")
    assert added.toggle_member("E08000003").members == ("E08000001",)
    assert colour_at(added.members, "E08000003") == PICKED
    assert colour_at(cfg.members, "E08000003") != PICKED
    with pytest.raises(SimInputError, match="map click: unknown local authority"):
        cfg.toggle_member("E99999999")


def test_paired_differences_with_a_95_percent_t_interval() -> None:
    base_well, conf_well = [80.0, 84.0, 82.0], [83.0, 85.0, 86.0]
    runs = [r for s in range(3) for r in (_arm_run("baseline", s, base_well[s], 9.0),
                                          _arm_run("configuration", s, conf_well[s], 4.5))]
    comp = Comparison(ExplorerConfig(preset="", members=("E08000001",)), runs)
    table = comp.summary()
    row = table[(table["group"] == "RCC members")
                & (table["outcome"].str.startswith("Sufficiency"))].iloc[0]
    d = np.array(conf_well) - np.array(base_well)
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert row["baseline"] == pytest.approx(np.mean(base_well))
    assert row["difference"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    away = table[table["outcome"] == "Placed outside their cooperative"].iloc[0]
    assert (away["baseline"], away["configuration"]) == pytest.approx((10.0, 5.0))
    assert away["ci_low"] == away["ci_high"] == pytest.approx(-5.0)  # no spread: zero width
    assert set(table["group"]) == {"RCC members", "Run area"}
    by_la = comp.la_metrics("configuration").set_index("la")["sufficiency"]
    assert by_la.to_dict() == pytest.approx({"E08000001": np.mean(conf_well), "E06000007": 80.0})


def test_cancel_stops_a_run_from_the_models_progress_callback() -> None:
    cfg = ExplorerConfig(area="members", scale=0.05, years=0.5, seeds=(1,))
    calls: list[str] = []
    with pytest.raises(RunCancelled):
        run_comparison(cfg, lambda f, m: calls.append(m), lambda: len(calls) >= 4)
    assert len(calls) == 4  # nothing ran after the cancel
    assert calls[-1].startswith("running baseline, seed 1") and "week 3 of 26" in calls[-1]


@pytest.fixture(scope="module")
def small_comparison() -> Comparison:
    """The Greater Manchester members only, a tenth of the market, a quarter, two seeds."""
    cfg = ExplorerConfig(area="members", scale=0.1, years=0.25, seeds=(1, 2))
    return run_comparison(cfg)


def test_a_small_run_pairs_both_arms_on_every_seed(small_comparison) -> None:
    comp = small_comparison
    assert [(r.arm, r.seed) for r in comp.runs] == [
        ("baseline", 1), ("configuration", 1), ("baseline", 2), ("configuration", 2)]
    table = comp.summary()
    assert len(table) >= 16 and (table["seeds"] == 2).all()
    values = table[["baseline", "configuration", "difference", "ci_low", "ci_high"]]
    assert np.isfinite(values.to_numpy()).all()
    suff = table[table["outcome"].str.startswith("Sufficiency")]
    assert ((suff["baseline"] > 50) & (suff["baseline"] <= 100)).all()
    assert sorted(comp.la_metrics("baseline")["la"]) == sorted(GREATER_MANCHESTER)
    assert (comp.flows("configuration")["children"] > 0).all()
    assert set(comp.series("sufficiency")) == {"baseline", "configuration"}


def test_map_and_charts_draw_a_run(small_comparison) -> None:
    from sim.explorer import charts
    from sim.explorer import map as lamap

    comp = small_comparison
    diff = comp.la_difference()
    figures = [
        lamap.choropleth(dict(zip(diff["la"], diff["sufficiency"], strict=True)), title="t",
                         label="pp", groups=comp.config.cooperatives(), area=comp.area,
                         difference=True),
        lamap.choropleth({"E08000001": 1.0}, title="England", label="x", area=None),
        lamap.flow_map(comp.flows("configuration"), title="flows",
                       groups=comp.config.cooperatives(), area=comp.area,
                       members=comp.members),
        charts.series_figure(comp), charts.difference_figure(comp.summary())]
    for fig in figures:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    raster = lamap.la_raster(*lamap.view(GREATER_MANCHESTER))
    from sim.geography import load_geography

    manchester = load_geography().la("E08000003").index
    assert (raster.labels == manchester).sum() > 100


def test_exported_file_runs_with_sim_run(tmp_path, capsys) -> None:
    path = tmp_path / "rcc.toml"
    path.write_text(ExplorerConfig(area="members", scale=0.05).to_toml(), encoding="utf-8")
    assert main(["run", str(path), "--years", "0.1"]) == 0
    assert "scenario 'rcc_explorer'" in capsys.readouterr().out


# -- the command -----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_explore_warns_off_localhost_and_refuses_a_busy_port(monkeypatch, capsys) -> None:
    import sim.explorer.server as server

    served = []
    monkeypatch.setattr(server, "serve", lambda host, port: served.append((host, port)))
    assert main(["explore", "--host", "0.0.0.0", "--port", "9999"]) == 0
    assert served == [("0.0.0.0", 9999)]
    assert "warning: serving on 0.0.0.0" in capsys.readouterr().err
    monkeypatch.undo()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --port: cannot listen on") and err.count("\n") == 1


# -- the page in a real browser ----------------------------------------------------------
@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    """``sim explore --port <free>`` in a subprocess, until the page answers."""
    port = _free_port()
    log = tmp_path_factory.mktemp("explorer") / "server.log"
    script = Path(sys.executable).with_name("sim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]
    with log.open("w") as out:
        proc = subprocess.Popen([*command, "explore", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPO, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sim explore exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"sim explore did not answer in 180 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _choose(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def _map_position(code: str) -> tuple[float, float]:
    """Where an LA's centroid falls on the picking map, as fractions of its width (from
    the left) and height (from the top)."""
    from sim.explorer.map import picker_raster
    from sim.geography import load_geography

    la = load_geography().la(code)
    x0, x1, y0, y1 = picker_raster().extent
    return (la.centroid_easting - x0) / (x1 - x0), (y1 - la.centroid_northing) / (y1 - y0)


def _numbers(texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        try:
            out.append(float(text.replace(",", "").replace("+", "")))
        except ValueError:
            continue
    return out


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install "
                    "chromium chromium-driver; .ci/run installs it)")
def test_page_runs_greater_manchester_in_headless_chromium(explorer_url, tmp_path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, server = explorer_url
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_text("RCC explorer", exact=True).first.wait_for(timeout=90_000)

            # A region first, then the Greater Manchester pathfinder.
            _choose(page, "Preset", "North East region (12 LAs)")
            page.get_by_text("Members (12):").wait_for()
            _choose(page, "Preset", "Greater Manchester pathfinder (10 LAs)")
            page.get_by_text("Members (10):").wait_for()
            members = page.locator(".explorer-members").inner_text()
            assert "Bolton" in members and "Wigan" in members

            # Bad input: no LAs chosen, and an impossible number of years.
            page.get_by_role("button", name="Pick LAs").click()
            page.get_by_text("no LAs chosen").first.wait_for()
            page.get_by_role("button", name="Run", exact=True).click()
            assert "no LAs chosen" in page.locator(".explorer-error").inner_text()

            # Picking on the map: a click on Manchester adds it, a second takes it out.
            picker = page.locator(".explorer-picker img")
            picker.wait_for()
            box = picker.bounding_box()
            x, y = _map_position("E08000003")
            spot = {"x": x * box["width"], "y": y * box["height"]}
            picker.hover(position=spot)
            sync_api.expect(page.locator(".explorer-picker-hover")).to_have_text("Manchester")
            picker.click(position=spot)
            page.get_by_text("Members (1):").wait_for()
            assert "Manchester" in page.locator(".explorer-members").inner_text()
            picker.click(position=spot)
            page.get_by_text("no LAs chosen").first.wait_for()
            page.get_by_role("button", name="Preset").click()
            page.get_by_text("Members (10):").wait_for()
            years = page.get_by_label("Years")
            years.fill("0")
            years.press("Enter")
            page.get_by_text("years: 0.0 is out of range").first.wait_for()
            assert server.poll() is None  # the server is still up

            # A small run: half a year, two seeds; cancel once, then run to the end.
            years.fill("0.5")
            years.press("Enter")
            page.get_by_text("0.5 years each").wait_for()
            page.get_by_role("button", name="Run", exact=True).click()
            page.locator(".explorer-status").wait_for()
            page.get_by_role("button", name="Cancel").click()
            page.get_by_text("Run cancelled").wait_for(timeout=60_000)
            page.get_by_role("button", name="Run", exact=True).click()
            page.locator(".explorer-summary").first.wait_for(timeout=600_000)
            page.get_by_text("Run cancelled").wait_for(state="detached")

            header = page.locator(".explorer-results").inner_text()
            assert "13 LAs" in header and "seeds 1, 2" in header
            summary = page.locator(".explorer-summary").first
            assert "Sufficiency" in summary.inner_text()
            numbers = _numbers(summary.locator("td.n").all_inner_texts())
            assert len(numbers) >= 20
            sufficiency = _numbers(summary.locator("tr").nth(1).locator("td.n")
                                   .all_inner_texts())
            assert 50 < sufficiency[0] <= 100  # baseline sufficiency, %

            # The difference chart, the map, the flows and the time series are images.
            page.wait_for_function(
                "() => [...document.images].filter(i => i.complete && i.naturalWidth > 300)"
                ".length >= 4", timeout=60_000)
            sizes = page.locator("img").evaluate_all(
                "els => els.map(e => [e.naturalWidth, e.naturalHeight])")
            assert len([s for s in sizes if s[0] > 300 and s[1] > 300]) >= 4
            page.get_by_text("Largest flows").wait_for()

            page.set_viewport_size({"width": 1400, "height": 3500})
            page.evaluate("() => document.querySelectorAll('*').forEach(e => e.scrollTop = 0)")
            page.wait_for_timeout(1500)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            raw = page.screenshot()

            # Import: a file chosen in the page, then a broken paste (a message, no crash).
            page.set_viewport_size({"width": 1400, "height": 1000})
            upload = tmp_path / "tees_valley.toml"
            upload.write_text(ExplorerConfig(preset="", members=(
                "E06000001", "E06000002", "E06000003"), cooperative_name="Tees Valley",
                area="members").to_toml(), encoding="utf-8")
            page.locator("input[type=file]").set_input_files(str(upload))
            page.get_by_text("Imported tees_valley.toml").wait_for()
            page.get_by_text("Members (3):").wait_for()
            page.locator("textarea").fill("name = [")
            page.get_by_role("button", name="Load pasted TOML").click()
            page.get_by_text("pasted TOML: not valid TOML").wait_for()
            assert server.poll() is None
        finally:
            browser.close()
    _save_small_png(raw, SCREENSHOT)
    assert SCREENSHOT.stat().st_size < 1_500_000


def _save_small_png(raw: bytes, path: Path) -> None:
    """Two-thirds size, 256 colours: a page screenshot small enough to commit."""
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    image = image.resize((image.width * 2 // 3, image.height * 2 // 3),
                         Image.Resampling.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
