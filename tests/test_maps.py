"""Zone map: render tiny hand-made frames and inspect the HTML a person would get."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from maps.colours import (
    PALETTE,
    blend,
    colour_zones,
    delta_e,
    neighbour_contrast,
    simulate_deuteranopia,
    zone_adjacency,
)
from maps.escape import escape_frame, escape_text
from maps.zone_map import (
    LAYER_CURRENT,
    LAYER_PROPOSED,
    LAYER_PROVIDERS,
    LAYER_TILES,
    MapView,
    build_zone_map,
    render_zone_map,
    validate_view,
)

LON, LAT, SIDE = -1.15, 52.60, 0.05

EVIL_NAMES = (
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "Back`tick` Care",
    "Evil</script><script>alert(2)</script>",
)

# --------------------------------------------------------------------------- fixtures


def _square(i: int) -> object:
    return box(LON + i * SIDE, LAT, LON + (i + 1) * SIDE, LAT + SIDE)


def _proposed() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "zone_id": ["Z01", "Z02", "Z03"],
            "zone_name": ["Leicester <b>West</b>", "Oadby & Wigston", "Blaby"],
            "hours_per_week": [1234.4, 987.6, 1500.0],
            "capacity_hours_per_week": [1400.0, 1000.0, 1600.0],
            "demand_capacity_ratio": [0.8817, 0.9876, np.nan],
            "mean_travel_min": [12.34, 9.87, 15.0],
            "n_postcodes": [120, 95, 130],
            "n_units": [12, 9, 13],
            "load_vs_mean_pct": [4.2, -16.5, 12.3],
        },
        geometry=[_square(i) for i in range(3)],
        crs="EPSG:4326",
    )


def _current() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "zone_name": ["Old North `x`", "Old South"],
            "hours_per_week": [2100.0, 1621.0],
            "mean_travel_min": [14.25, 11.0],
        },
        geometry=[
            box(LON, LAT, LON + 3 * SIDE, LAT + SIDE / 2),
            box(LON, LAT + SIDE / 2, LON + 3 * SIDE, LAT + SIDE),
        ],
        crs="EPSG:4326",
    )


def _providers(names: tuple[str, ...] = EVIL_NAMES) -> gpd.GeoDataFrame:
    n = len(names)
    return gpd.GeoDataFrame(
        {
            "provider_id": [f"P{i:03d}" for i in range(n)],
            "name": list(names),
            "capacity_hours_per_week": [400.0 * (i + 1) for i in range(n)],
            "zone_id": [f"Z0{i % 3 + 1}" for i in range(n)],
        },
        geometry=[Point(LON + 0.01 + i * 0.03, LAT + 0.02) for i in range(n)],
        crs="EPSG:4326",
    )


def _centres() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"zone_id": ["Z01", "Z02", "Z03"], "zone_name": ["W", "O", "B"]},
        geometry=[_square(i).representative_point() for i in range(3)],
        crs="EPSG:4326",
    )


HEADER = (
    "Scenario: baseline <draft>",
    "Run 2025-01-31; postcodes ONSPD Nov 2024",
    "Demand and providers are SYNTHETIC (not real clients or providers)",
    "Current zones are an APPROXIMATE reconstruction",
    "Solver: HiGHS optimal, gap 0.00%",
)


def _view(**changes: object) -> MapView:
    fields: dict[str, object] = {
        "title": "Leicestershire home care zones — proposed vs current",
        "header_lines": HEADER,
        "proposed": _proposed(),
        "current": _current(),
        "providers": _providers(),
        "outline": gpd.GeoDataFrame(
            {"secret": ["</script>"]},
            geometry=[box(LON, LAT, LON + 3 * SIDE, LAT + SIDE)],
            crs="EPSG:4326",
        ),
        "centres": _centres(),
    }
    fields.update(changes)
    return MapView(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def page() -> str:
    return render_zone_map(_view())


@pytest.fixture(scope="module")
def seen(page: str) -> str:
    """The page with JSON string escapes (``\\u003c``, ``\\"``) undone: what the JS hands
    to ``innerHTML`` once the embedded GeoJSON and DivIcon options are parsed."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), page)
    return text.replace('\\"', '"')


# --------------------------------------------------------------------------- escape_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", "plain text"),
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
        ("a & b", "a &amp; b"),
        ('"q"', "&quot;q&quot;"),
        ("'s'", "&#x27;s&#x27;"),
        ("`tick`", "&#96;tick&#96;"),
        ("${alert(1)}", "&#36;&#123;alert(1)&#125;"),
        ("C:\\path", "C:&#92;path"),
        ("</script>", "&lt;/script&gt;"),
        ("&#96;", "&amp;#96;"),  # entities in input are shown literally, not decoded
        (None, ""),
        (12.5, "12.5"),
        ("Zone — Ashby", "Zone — Ashby"),
    ],
)
def test_escape_text_cases(raw: object, expected: str) -> None:
    assert escape_text(raw) == expected


def test_escape_text_leaves_no_active_characters() -> None:
    nasty = "<>&\"'`${}\\" * 3
    out = escape_text(nasty)
    assert not set(out) & set("<>\"'`${}\\")


def test_escape_frame_copies_and_escapes_only_named_columns() -> None:
    gdf = gpd.GeoDataFrame(
        {"a": ["<x>", None], "b": ["<y>", "z"], "n": [1.0, np.nan]},
        geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:4326",
    )
    out = escape_frame(gdf, ["a", "n"])
    assert list(out["a"]) == ["&lt;x&gt;", ""]
    assert list(out["n"]) == ["1.0", ""]
    assert list(out["b"]) == ["<y>", "z"]
    assert gdf["a"].iloc[0] == "<x>" and gdf["a"].isna().iloc[1]  # original untouched
    assert out.crs == gdf.crs


def test_escape_frame_names_missing_columns() -> None:
    gdf = gpd.GeoDataFrame({"a": ["x"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    with pytest.raises(ValueError, match=r"\['nope', 'gone'\]"):
        escape_frame(gdf, ["a", "nope", "gone"])


# --------------------------------------------------------------------------- render


def test_page_shows_zone_ids_and_formatted_figures(page: str, seen: str) -> None:
    for zone_id in ("Z01", "Z02", "Z03"):
        assert f'<div class="cz-zone-label">{zone_id}</div>' in seen
    for figure in ('"1,234 h/week (+4.2% vs mean)"', '"988 h/week (-16.5% vs mean)"',
                   '"1,400 h/week; demand \\u00f7 capacity 0.88"', '"1,600 h/week; demand \\u00f7 capacity n/a"',
                   '"12.3 min to the centre"', '"9.9 min to the centre"', '"12 LSOAs, 120 postcodes"'):  # fmt: skip
        assert figure in page, figure
    # current zones tooltip figures
    for figure in ("2,100", "1,621", "14.2"):
        assert f'"{figure}"' in page, figure


def test_provider_names_appear_only_escaped(page: str, seen: str) -> None:
    for raw in ("<img src=x", "${alert", "</script><", "Back`tick"):
        assert raw not in page, raw
        assert raw not in seen, raw
    for escaped in (
        "&lt;img src=x onerror=alert(1)&gt;",
        "&#36;&#123;alert(1)&#125;",
        "Back&#96;tick&#96; Care",
        "Evil&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
    ):
        assert escaped in page, escaped
    assert "P000" in page and "P003" in page


def test_script_blocks_balanced(page: str) -> None:
    """A stray `</script>` from data would close a block early and leave an extra one."""
    assert page.count("<script") == page.count("</script>")


def test_zone_name_markup_escaped_in_tooltip(page: str, seen: str) -> None:
    assert "<b>West" not in page and "<b>West" not in seen
    assert '"zone": "Z01 — Leicester &lt;b&gt;West&lt;/b&gt;"' in seen  # tooltip property
    assert '"zone": "Z02 — Oadby &amp; Wigston"' in seen
    assert '"zone": "Old North &#96;x&#96;"' in seen  # current zones tooltip
    assert "Old North `x`" not in seen


def test_header_lines_escaped_and_present(page: str) -> None:
    assert "Leicestershire home care zones — proposed vs current" in page
    assert "Scenario: baseline &lt;draft&gt;" in page
    assert "<draft>" not in page
    for line in HEADER[1:]:
        assert f"<li>{line}</li>" in page


def test_layers_and_offline_readability() -> None:
    m = build_zone_map(_view())
    html = m.get_root().render()
    for name in (LAYER_PROPOSED, LAYER_CURRENT, LAYER_PROVIDERS, "Zone centres", LAYER_TILES):
        assert f'"{name}"' in html, name
    assert '"collapsed": true' in html  # the layer control opens on demand
    assert '"dashArray": "6 4"' in html
    assert f"#{m.get_name()} {{ background:" in html
    # OSM is an overlay that starts switched off: no tile layer is added to the map at load
    tiles = [k for k, v in m._children.items() if k.startswith("tile_layer")]
    assert len(tiles) == 1 and m._children[tiles[0]].show is False
    assert "secret" not in html  # outline carries geometry only


def _grid_zones(rows: int, cols: int) -> gpd.GeoDataFrame:
    cells = [box(c, r, c + 1, r + 1) for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame({"zone": [f"Z{i:02d}" for i in range(len(cells))]}, geometry=cells, crs="EPSG:27700")


def test_grid_adjacency_counts_edges_and_corners() -> None:
    adj = zone_adjacency(_grid_zones(3, 3), id_column="zone")
    # 12 shared edges + 8 shared corners in a 3 x 3 grid; the centre touches all 8 others
    assert len(adj) == 20 and sum("Z04" in pair for pair in adj) == 8


@pytest.mark.parametrize("key", ["district_name", "msoa"])
def test_no_two_neighbouring_zones_share_a_colour_even_under_deuteranopia(key: str) -> None:
    """Leicestershire's 9 districts and 125 MSOAs (committed boundaries) as zone maps."""
    lsoa = gpd.read_file(Path(__file__).parents[1] / "data" / "boundaries" / "E10000018_lsoa2011.geojson").to_crs(27700)
    lsoa["msoa"] = lsoa["lsoa11nm"].str[:-1]
    zones = lsoa.dissolve(by=key, as_index=False)
    adj = zone_adjacency(zones, id_column=key)
    colours = colour_zones(zones[key], adj)
    assert set(colours) == set(zones[key]) and set(colours.values()) <= set(PALETTE)
    assert all(colours[a] != colours[b] for a, b in adj), "two neighbours share a colour"
    normal, deut = neighbour_contrast(colours, adj)
    assert normal >= 20 and deut >= 15, (normal, deut)  # CIE76, as drawn at the fill opacity
    # the old colours (palette by sorted id) fail this: some neighbours shared a colour class
    by_id = {z: PALETTE[i % len(PALETTE)] for i, z in enumerate(sorted(colours))}
    assert neighbour_contrast(by_id, adj)[1] < deut


def test_deuteranopia_simulation_merges_red_and_green() -> None:
    red, green = "#d62728", "#2ca02c"
    assert delta_e(red, green) > 60
    assert delta_e(simulate_deuteranopia(red), simulate_deuteranopia(green)) < 0.5 * delta_e(red, green)
    assert simulate_deuteranopia("#808080") == "#808080"  # greys stay grey
    assert blend("#000000", 0.5, "#ffffff") == "#808080"


def test_page_has_a_title_a_collapsed_header_and_print_and_phone_styles(page: str) -> None:
    assert "<title>Leicestershire home care zones — proposed vs current</title>" in page
    assert '<details class="cz-details">' in page and "<details open" not in page
    assert "@media print" in page and "size: A4 landscape" in page and "@media (max-width: 600px)" in page
    assert 'class="cz-print"' in page


def test_headline_figures_show_in_the_collapsed_header() -> None:
    html = render_zone_map(_view(headline=("Balance 10.82 → 1.22", "Travel -2.7%", "39% <of> care changes zone")))
    summary = html[html.index('<summary><span class="cz-title">'):html.index("</summary>")]
    assert "Balance 10.82 → 1.22" in summary and "39% &lt;of&gt; care" in summary


def test_fit_bounds_to_proposed_zones(page: str) -> None:
    assert f"[[{LAT}, {LON}], [{LAT + SIDE}, {LON + 3 * SIDE}]]" in page.replace("\n", "")


def test_renders_without_optional_layers_and_empty_providers() -> None:
    html = render_zone_map(_view(outline=None, centres=None, providers=_providers(()).iloc[0:0]))
    assert "Z02" in html and '"Zone centres"' not in html


# --------------------------------------------------------------------------- refusals


def test_wrong_crs_refused() -> None:
    with pytest.raises(ValueError, match="EPSG:4326") as err:
        build_zone_map(_view(proposed=_proposed().to_crs("EPSG:27700")))
    assert "EPSG:27700" in str(err.value) and "to_crs" in str(err.value)


def test_missing_crs_refused() -> None:
    with pytest.raises(ValueError, match="no CRS"):
        build_zone_map(_view(current=_current().set_crs(None, allow_override=True)))


def test_all_missing_columns_named_in_one_error() -> None:
    proposed = _proposed().drop(columns=["n_units", "mean_travel_min", "load_vs_mean_pct"])
    providers = _providers().drop(columns=["capacity_hours_per_week"])
    with pytest.raises(ValueError) as err:
        build_zone_map(_view(proposed=proposed, providers=providers))
    message = str(err.value)
    for col in ("n_units", "mean_travel_min", "load_vs_mean_pct", "capacity_hours_per_week"):
        assert col in message
    assert "proposed:" in message and "providers:" in message


def test_duplicate_zone_ids_and_wrong_geometry_refused() -> None:
    proposed = _proposed()
    proposed.loc[2, "zone_id"] = "Z01"
    providers = _providers().set_geometry([_square(0)] * len(EVIL_NAMES), crs="EPSG:4326")
    with pytest.raises(ValueError) as err:
        validate_view(_view(proposed=proposed, providers=providers))
    assert "duplicate zone_id ['Z01']" in str(err.value)
    assert "providers: expected geometry types ['Point']" in str(err.value)


def test_not_a_geodataframe_refused() -> None:
    with pytest.raises(ValueError, match="expected a GeoDataFrame; received DataFrame"):
        build_zone_map(_view(current=pd.DataFrame({"zone_name": ["x"]})))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to evaluate JS literals")
def test_tooltip_template_literals_run_no_code(page: str, tmp_path: Path) -> None:
    """Evaluate every ``bindTooltip(`...`)`` literal in node: ``${...}`` from data must stay
    text. ``alert`` is left undefined, so an injected call fails the script."""
    literals = re.findall(r"bindTooltip\(\s*`(.*?)`\s*,", page, flags=re.DOTALL)
    assert len(literals) == len(EVIL_NAMES) + 3  # providers + zone centres
    script = tmp_path / "literals.js"
    script.write_text(
        "const out = [" + ",".join(f"`{lit}`" for lit in literals) + "];\n"
        "process.stdout.write(JSON.stringify(out));\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    texts = json.loads(done.stdout)
    assert texts == [lit for lit in literals]  # nothing was interpolated
    assert any("&#36;&#123;alert(1)&#125;" in t for t in texts)
    assert not any("<img" in t or "</script" in t for t in texts)


def test_frame_without_geometry_refused() -> None:
    no_geometry = gpd.GeoDataFrame(pd.DataFrame({"zone_name": ["x"]}))
    with pytest.raises(ValueError, match="current: expected an active geometry column"):
        build_zone_map(_view(current=no_geometry))


def test_rendered_page_is_self_contained() -> None:
    """No CDN: Leaflet is inlined and nothing else is fetched from the network."""
    from maps.offline import external_urls

    page = render_zone_map(_view())
    assert "L.map(" in page and "leaflet" in page.lower()
    assert [u for u in external_urls(page) if "leafletjs.com" not in u] == []
    assert "cdn.jsdelivr" not in page and "jquery" not in page.lower()


# --------------------------------------------------------------------------- optional layers


def _full_view() -> MapView:
    from dataclasses import replace

    squares = _proposed()
    difference = gpd.GeoDataFrame({"from_zone": ["Old `x` ${y}"], "to_zone": ["Z02 <b>"], "n_units": [3]},
                                  geometry=[_square(1)], crs="EPSG:4326")
    bands = gpd.GeoDataFrame({"band": ["urban", "rural"], "n_postcodes": [100, 20]},
                             geometry=[_square(0), _square(2)], crs="EPSG:4326")
    density = gpd.GeoDataFrame({"area_name": ["A <i>", "B", "C"], "hours_per_km2": [1.5, np.nan, 7.25],
                                "clients": [15.0, np.nan, 20.0], "suppressed": [False, True, False]},
                               geometry=[_square(i) for i in range(3)], crs="EPSG:4326")
    towns = gpd.GeoDataFrame({"name": ["Evil</script><b>town"]}, geometry=[Point(LON + 0.02, LAT + 0.02)],
                             crs="EPSG:4326")
    search = pd.DataFrame({"postcode": ["LE13 0AA", "LE13 0AB", "NG13 9ZZ"], "zone_id": ["Z01", "Z02", "Z03"],
                           "current_zone": ["=Old", "Old South", "Old South"]})
    proposed = squares.assign(band_mix=["urban 100%", "rural 50%, isolated 50%", ""], change=["continues <x>", "", ""])
    return replace(_view(), proposed=proposed, difference=difference, bands=bands,
                   band_rates={"urban": 21.5, "rural": 24.0}, density=density, towns=towns, search=search)


def test_optional_layers_are_drawn_escaped_and_self_contained() -> None:
    from maps.layers import LAYER_BANDS, LAYER_DENSITY, LAYER_DIFFERENCE, LAYER_TOWNS
    from maps.offline import external_urls

    page = render_zone_map(_full_view())
    for layer in (LAYER_BANDS, LAYER_DENSITY, LAYER_TOWNS, "Areas that change zone"):
        assert escape_text(layer) in page or layer in page
    assert LAYER_DIFFERENCE.startswith("Areas that change zone")
    assert "L.markerClusterGroup(" in page and "sourceMappingURL" not in page
    assert external_urls(page) == [] or all("leafletjs.com" in u for u in external_urls(page))
    assert "Evil</script>" not in page and "<b>town" not in page
    assert "${y}" not in page and "<i>" not in page.split("<body>")[1]
    assert "continues &lt;x&gt;" in page or "continues \\u0026lt;x\\u0026gt;" in page


def test_search_table_is_compact_and_round_trips() -> None:
    from maps.search import encode_lookup

    table = _full_view().search
    assert table is not None
    data = encode_lookup(table, zone_ids=["Z01", "Z02", "Z03"])
    assert data["p"] == {"LE13": "0AA00" + "0AB11", "NG13": "9ZZ21"}
    assert data["c"] == ["=Old", "Old South"] and data["n"] == 3
    with pytest.raises(ValueError, match="expected normalised postcodes"):
        encode_lookup(table.assign(postcode=["le13 0aa", "LE13 0AB", "NG13 9ZZ"]), zone_ids=["Z01", "Z02", "Z03"])
