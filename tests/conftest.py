"""Shared fixtures: hand-made grids whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.problem import DistrictingProblem


def grid_problem(
    rows: int, cols: int, *, n_zones: int, tolerance: float, demand: np.ndarray | None = None
) -> DistrictingProblem:
    """A rows x cols rook grid with unit spacing; cost = straight-line distance."""
    xy = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=float)
    cost = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    d = np.ones(rows * cols) if demand is None else np.asarray(demand, dtype=float)
    return DistrictingProblem(
        demand=d, cost=cost, edges=np.array(edges), n_zones=n_zones, tolerance=tolerance
    )


@pytest.fixture
def path4() -> DistrictingProblem:
    """Four units in a row, unit demand, two zones, exact balance: {0,1} and {2,3}."""
    return grid_problem(1, 4, n_zones=2, tolerance=0.0)


# --- a small real extract: Melton borough (E07000133) as the "area" --------------------------

import hashlib  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_scenario(folder: Path, *, demand: str = "demand.csv", zones: int = 3, tolerance: float = 0.15,
                   extra: str = "", on_unmatched: str = "error") -> Path:
    path = folder / "melton.toml"
    path.write_text(
        f'''name = "melton-test"
title = "Melton test <b>& co</b>"
area_code = "E07000133"
area_name = "Melton"
seed = 7
{extra}
[data]
postcodes = "postcodes.csv"
boundaries = "lsoa.geojson"

[demand]
path = "{demand}"
synthetic = true
description = "SYNTHETIC test demand"
on_unmatched = "{on_unmatched}"

[providers]
path = "providers.csv"
synthetic = true
description = "SYNTHETIC test providers"

[current_zones]
path = "zones.csv"
key = "ward_code"
approximate = true
description = "APPROXIMATE test zones"

[model]
zones = {zones}
tolerance = {tolerance}
time_limit_s = 60
''',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def melton_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Melton borough cut from the committed Leicestershire data, with a demand file taken
    from the synthetic default, two providers and a two-zone 'current' plan."""
    folder = tmp_path_factory.mktemp("melton")
    pcs = pd.read_csv(DATA / "postcodes" / "E10000018_postcodes.csv", dtype=str, keep_default_na=False)
    pcs["in_area"] = (pcs["district_code"] == "E07000133").astype(int).astype(str)
    pcs.to_csv(folder / "postcodes.csv", index=False)
    lsoa = gpd.read_file(DATA / "boundaries" / "E10000018_lsoa2011.geojson")
    lsoa["in_area"] = (lsoa["district_code"] == "E07000133").astype(int)
    lsoa.to_file(folder / "lsoa.geojson", driver="GeoJSON")
    demand = pd.read_csv(DATA / "synthetic" / "E10000018_demand.csv", dtype=str)
    melton = set(pcs.loc[pcs["in_area"] == "1", "postcode"])
    demand[demand["postcode"].isin(melton)].to_csv(folder / "demand.csv", index=False)
    pd.DataFrame(
        {"provider_id": ["P1", "P2", "P3"],
         "name": ["<img src=x onerror=alert(1)>", "${alert(1)}", "=HYPERLINK(\"x\")"],
         "postcode": ["LE13 0AA", "NG13 0AA", "LE1 1AA"],
         "capacity_hours_per_week": ["500", "300", "1,200"]}
    ).to_csv(folder / "providers.csv", index=False)
    wards = pcs[pcs["in_area"] == "1"][["ward_code", "ward_name"]].drop_duplicates()
    wards["zone"] = ["Melton town" if n.startswith("Melton") else "=Melton rural" for n in wards["ward_name"]]
    wards.to_csv(folder / "zones.csv", index=False)
    write_scenario(folder)
    return folder


@pytest.fixture
def melton_copy(melton_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the Melton extract a test may modify."""
    target = tmp_path / "melton"
    shutil.copytree(melton_dir, target)
    return target
