"""Open the Melton ``map.html`` in headless Chromium (Debian's ``chromium`` driven by playwright)
with every network request blocked and recorded, and check what a person would see and do.

Run only these: ``.venv/bin/python -m pytest -m browser``. They need ``/usr/bin/chromium``
(``make test`` installs it with apt-get when it is missing and we are root) and the
``playwright`` package (test extra); no browser download is used. They skip, saying why, only
when either truly cannot be had.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maps.colours import FILL_OPACITY, zone_adjacency
from maps.zone_map import BACKGROUND, LAYER_PROPOSED, map_zone_colours
from zoning.pipeline import plan_zones
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CAREZONES_CHROMIUM", "/usr/bin/chromium")

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]' (see README, browser tests)"
)


@pytest.fixture(scope="module")
def outputs(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    plan = plan_zones(load_scenario(melton_dir / "melton.toml"))
    return write_outputs(plan, tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install -y chromium) "
                    "or set CAREZONES_CHROMIUM; `make test` does this when run as root")
    with playwright_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        except playwright_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} would not start under playwright: {exc}")
        yield b
        b.close()


class Page:
    """A page with the map open, its console errors, requests other than the page, and dialogs."""

    def __init__(self, browser: object, path: Path, *, width: int = 1400, height: int = 1000) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        url = path.resolve().as_uri()

        def route(r: object) -> None:
            req_url = r.request.url  # type: ignore[attr-defined]
            if req_url == url:
                r.continue_()  # type: ignore[attr-defined]
            else:
                self.requests.append(req_url)
                r.abort()  # type: ignore[attr-defined]

        self.page.route("**/*", route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")
        html = path.read_text(encoding="utf-8")
        self.map_var = re.search(r"var (map_[0-9a-f]+) = L\.map\(", html)[1]  # type: ignore[index]
        self.cluster_var = re.search(r"var (marker_cluster_[0-9a-f]+) = L\.markerClusterGroup\(", html)[1]  # type: ignore[index]

    def open_header(self) -> None:
        self.page.click(".cz-box summary")

    def open_layers(self) -> None:
        self.page.hover(".leaflet-control-layers")

    def box(self, selector: str) -> dict[str, float]:
        return self.page.locator(selector).first.bounding_box()  # type: ignore[no-any-return]

    def zone_fills(self) -> dict[str, str]:
        """Proposed zone id -> fill colour, read from the Leaflet layers on the page."""
        return dict(self.page.evaluate(
            f"() => {{ const out = {{}}; {self.map_var}.eachLayer(l => {{ if (l.feature && l.feature.properties"
            " && l.feature.properties.zone_id && l.options.fillColor) out[l.feature.properties.zone_id] ="
            " l.options.fillColor.toLowerCase(); }); return out; }"
        ))

    def fills(self) -> dict[str, int]:
        """Visible SVG paths by fill colour."""
        counts = self.page.evaluate(
            "() => { const c = {}; document.querySelectorAll('path.leaflet-interactive').forEach(p => {"
            " const f = (p.getAttribute('fill') || 'none').toLowerCase(); c[f] = (c[f] || 0) + 1; }); return c; }"
        )
        return dict(counts)


@pytest.fixture
def page(browser: object, outputs: dict[str, Path]) -> Iterator[Page]:
    p = Page(browser, outputs["map"])
    yield p
    p.page.close()


def _blend(colour: str, alpha: float, background: str = BACKGROUND) -> np.ndarray:
    fg = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    bg = np.array([int(background[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return alpha * fg + (1 - alpha) * bg


def _zone_colours(outputs: dict[str, Path]) -> dict[str, str]:
    import geopandas as gpd

    return {z: c.lower() for z, c in map_zone_colours(gpd.read_file(outputs["zones"])).items()}


def _coverage(shot: Path, colour: str) -> int:
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float).reshape(-1, 3)
    return int((np.abs(pixels - _blend(colour, FILL_OPACITY)).max(axis=1) <= 6).sum())


def test_map_renders_zones_offline_without_errors(page: Page, outputs: dict[str, Path], tmp_path: Path) -> None:
    shot = tmp_path / "map.png"
    page.page.screenshot(path=str(shot))
    for colour in set(_zone_colours(outputs).values()):  # the Melton zones at the fill opacity
        covered = _coverage(shot, colour)
        assert covered > 2000, f"zone colour {colour} covers only {covered} pixels"
    assert page.page.title() == "Melton test <b>& co</b>"
    assert page.errors == []
    assert page.requests == []  # zero external requests: everything is inlined
    assert page.dialogs == []


def test_neighbouring_zones_on_the_page_never_share_a_colour(page: Page, outputs: dict[str, Path]) -> None:
    import geopandas as gpd

    fills = page.zone_fills()
    zones = gpd.read_file(outputs["zones"])
    adjacency = zone_adjacency(zones, id_column="zone_id")
    assert set(fills) == set(zones["zone_id"]) and adjacency
    assert all(fills[a] != fills[b] for a, b in adjacency)
    assert fills == _zone_colours(outputs)  # the colours the report and the GIS styles use too


def test_header_and_layer_control_start_collapsed_and_open_on_demand(page: Page, outputs: dict[str, Path]) -> None:
    summary = json.loads(outputs["summary"].read_text(encoding="utf-8"))
    header = page.box(".cz-box")
    assert header["height"] <= 90 and header["width"] <= 460  # a compact bar, not a panel
    assert header["width"] * header["height"] < 0.03 * 1400 * 1000
    closed = page.page.inner_text(".cz-box")
    ratio_today, ratio_plan = summary["current"]["max_min_ratio"], summary["plan"]["max_min_ratio"]
    assert f"Balance {ratio_today:.2f} → {ratio_plan:.2f}" in closed and "changes zone" in closed
    assert page.page.locator("#cz-search-input").is_visible() is False
    layers = page.box(".leaflet-control-layers")
    assert layers["width"] < 120 and layers["height"] < 50
    assert page.page.locator(".leaflet-control-layers-expanded").count() == 0
    page.open_header()
    assert page.page.locator("#cz-search-input").is_visible()
    assert "Zone centre" in page.page.inner_text(".cz-box")
    page.open_layers()
    assert page.page.locator(".leaflet-control-layers-expanded").count() == 1
    assert page.errors == []


def test_zone_labels_and_town_labels_do_not_collide(page: Page) -> None:
    page.page.wait_for_timeout(300)
    rects = page.page.evaluate(
        "() => Array.from(document.querySelectorAll('.cz-zone-label, .cz-town-label'))"
        ".filter(e => !e.classList.contains('cz-hidden') && getComputedStyle(e).visibility !== 'hidden')"
        ".map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
        ".filter(r => r[2] > r[0])"
    )
    assert len(rects) >= 3
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            overlap = a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1
            assert not overlap, (a, b)


def test_print_puts_map_and_legend_on_one_a4_page(page: Page, outputs: dict[str, Path], tmp_path: Path) -> None:
    page.page.set_viewport_size({"width": 1123, "height": 794})  # A4 landscape at 96 dpi
    page.page.emulate_media(media="print")
    page.page.wait_for_timeout(300)
    legend = page.box(".cz-print")
    assert legend is not None and legend["x"] + legend["width"] <= 1123 and legend["height"] > 100
    assert page.page.locator(".cz-box").is_visible() is False
    assert "Z01" in page.page.inner_text(".cz-print") and "SYNTHETIC" in page.page.inner_text(".cz-print")
    shot = tmp_path / "print.png"
    page.page.screenshot(path=str(shot))
    for colour in set(_zone_colours(outputs).values()):
        assert _coverage(shot, colour) > 1500
    pdf = page.page.pdf(format="A4", landscape=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    assert page.errors == []


def test_phone_width_keeps_the_map_usable(browser: object, outputs: dict[str, Path], tmp_path: Path) -> None:
    phone = Page(browser, outputs["map"], width=390, height=844)
    try:
        assert phone.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        header = phone.box(".cz-box")
        assert header["width"] <= 390 and header["height"] <= 0.2 * 844
        shot = tmp_path / "phone.png"
        phone.page.screenshot(path=str(shot))
        for colour in set(_zone_colours(outputs).values()):
            assert _coverage(shot, colour) > 800
        layers, zoom = phone.box(".leaflet-control-layers"), phone.box(".leaflet-control-zoom")
        for control in (layers, zoom):  # controls sit clear of the header
            assert control["y"] > header["y"] + header["height"]
        phone.open_header()
        assert phone.page.locator("#cz-search-input").is_visible()
        assert phone.errors == [] and phone.requests == []
    finally:
        phone.page.close()


def test_layer_toggles_hide_and_show_layers(page: Page) -> None:
    zone_fills = set(page.zone_fills().values())
    assert sum(n for f, n in page.fills().items() if f in zone_fills) >= 3
    page.open_layers()
    page.page.get_by_label(LAYER_PROPOSED, exact=True).uncheck()
    assert sum(n for f, n in page.fills().items() if f in zone_fills) == 0
    band_fills = {"#5e3c99", "#b2abd2", "#fdb863", "#e66101"}
    assert not band_fills & set(page.fills())
    page.page.get_by_label("Price bands", exact=True).check()
    assert band_fills & set(page.fills())
    page.page.get_by_label(LAYER_PROPOSED, exact=True).check()
    assert sum(n for f, n in page.fills().items() if f in zone_fills) >= 3
    assert page.errors == []


def test_zone_tooltip_shows_the_zone_figures(page: Page, outputs: dict[str, Path]) -> None:
    summary = json.loads(outputs["summary"].read_text(encoding="utf-8"))
    geo = json.loads(outputs["zones"].read_text(encoding="utf-8"))
    from shapely.geometry import shape

    page.page.evaluate("() => { document.querySelector('.cz-box').style.display = 'none'; }")
    for feature in geo["features"]:
        zone = feature["properties"]["zone_id"]
        point = shape(feature["geometry"]).representative_point()
        xy = page.page.evaluate(f"() => {{ const p = {page.map_var}.latLngToContainerPoint([{point.y}, {point.x}]);"
                                " return [p.x, p.y]; }")
        page.page.mouse.move(xy[0] + 1, xy[1] + 1)
        page.page.mouse.move(xy[0], xy[1])
        tip = page.page.locator(".leaflet-tooltip").last
        tip.wait_for(state="visible")
        text = tip.inner_text()
        if f"{zone} —" not in text:
            continue  # a marker or label sat on the point; try the next zone
        record = next(z for z in summary["zones"] if z["zone"] == zone)
        assert f"{record['hours_per_week']:,.0f}" in text
        assert f"{record['capacity_hours_per_week']:,.0f}" in text
        assert f"{record['mean_travel_min']:.1f}" in text
        assert "Band mix" in text and "Change vs today" in text
        size = tip.bounding_box()
        assert size is not None and size["width"] <= 320 and size["height"] <= 260, size  # a tooltip that fits
        break
    else:
        pytest.fail("no zone tooltip could be opened")
    assert page.errors == []


def test_postcode_search_finds_the_zone_and_says_when_not_found(page: Page, outputs: dict[str, Path]) -> None:
    lookup = pd.read_csv(outputs["postcodes"], dtype=str).set_index("postcode")
    page.open_header()
    for postcode in ("LE13 0AA", lookup.index[len(lookup) // 2]):
        page.page.fill("#cz-search-input", "  " + postcode.lower().replace(" ", "   ") + " ")
        page.page.click("#cz-search-button")
        result = page.page.locator("#cz-search-result")
        assert result.get_attribute("data-zone") == lookup.at[postcode, "proposed_zone"]
        assert postcode in result.inner_text() and lookup.at[postcode, "proposed_zone"] in result.inner_text()
    # the zone is highlighted: one proposed polygon drawn with the thick black outline
    assert page.page.locator('path.leaflet-interactive[stroke="#000000"][stroke-width="5"]').count() == 1
    page.page.fill("#cz-search-input", "LE99 9ZZ")
    page.page.click("#cz-search-button")
    assert "LE99 9ZZ was not found" in page.page.inner_text("#cz-search-result")
    page.page.fill("#cz-search-input", "not a postcode")
    page.page.click("#cz-search-button")
    assert "Not a postcode" in page.page.inner_text("#cz-search-result")
    assert page.errors == [] and page.requests == []


def test_hostile_provider_names_show_as_text_and_run_nothing(page: Page) -> None:
    """The Melton providers are named ``<img src=x onerror=alert(1)>``, ``${alert(1)}`` and a formula."""
    texts = page.page.evaluate(
        f"""async () => {{
            const out = [];
            for (const mk of {page.cluster_var}.getLayers()) {{
                await new Promise(done => {page.cluster_var}.zoomToShowLayer(mk, done));
                mk.openTooltip();
                out.push(mk.getTooltip().getElement().innerText);
                mk.closeTooltip();
            }}
            return out;
        }}"""
    )
    joined = "\n".join(texts)
    assert "<img src=x onerror=alert(1)>" in joined
    assert "${alert(1)}" in joined
    assert page.page.locator(".leaflet-tooltip img, .cz-box img").count() == 0
    page.page.mouse.move(5, 5)
    page.page.wait_for_timeout(200)
    assert page.dialogs == []
    assert page.errors == [] and page.requests == []
