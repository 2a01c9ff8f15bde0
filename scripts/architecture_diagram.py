"""Draw the architecture of covertype into images/architecture.png (used by README.md).

Two panels. Above, the compose stack of docker-compose.yaml: the data API feeding the two Airflow DAGs,
the stores they write (MySQL, MinIO), the MLflow registry, and the load-balanced inference API, with the
four ways people use the system. Below, the package: src/covertype's top-level packages and modules and
who imports whom, computed by an ast scan (:mod:`package_imports`), laid out in layers so that every
arrow points down; an import cycle has no such layout, so the script names it and exits with status 1.
Matplotlib only, no network, deterministic output:

    uv run --frozen python scripts/architecture_diagram.py [--output images/architecture.png] [--source DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from package_imports import DEFAULT_SOURCE, ImportCycle, describe, layers, modules, package_graph  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "images" / "architecture.png"
WIDTH, HEIGHT = 160.0, 100.0  # the services panel, in diagram units (10 per inch)
PACKAGE_HEIGHT = 80.0  # the package panel below it
INK = "#1f2937"
MUTED = "#4b5563"


@dataclass(frozen=True)
class Palette:
    """Fill and edge colour of one family of components."""

    fill: str
    edge: str


DATA = Palette("#dbeafe", "#1d4ed8")
AIRFLOW = Palette("#ccfbf1", "#0f766e")
STORE = Palette("#fef3c7", "#b45309")
REGISTRY = Palette("#ede9fe", "#6d28d9")
SERVING = Palette("#dcfce7", "#15803d")
USER = Palette("#f3f4f6", "#6b7280")


@dataclass(frozen=True)
class Box:
    """A rectangle in diagram units (origin bottom left), with anchor points for arrows."""

    x: float
    y: float
    w: float
    h: float

    @property
    def top(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w, self.y + self.h / 2)

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """The point at fractions (fx, fy) of the box's width and height."""
        return (self.x + fx * self.w, self.y + fy * self.h)


def write(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    color: str = MUTED,
    bold: bool = False,
    align: str = "center",
    boxed: bool = False,
) -> None:
    """Text centred on (x, y) (or starting there when align="left"), optionally on a white label."""
    ax.text(
        x,
        y,
        text,
        ha=align,
        va="center",
        fontsize=size,
        color=color,
        fontweight="bold" if bold else "normal",
        zorder=5,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none"} if boxed else None,
    )


def rounded(
    ax: Axes,
    box: Box,
    palette: Palette,
    *,
    fill: str | None = None,
    width: float = 1.8,
    rounding: float = 1.6,
    dashed: bool = False,
    zorder: float = 2,
) -> None:
    """The rounded rectangle of a box, a replica shadow or a group."""
    ax.add_patch(
        FancyBboxPatch(
            (box.x, box.y),
            box.w,
            box.h,
            boxstyle=f"round,pad=0,rounding_size={rounding}",
            facecolor=fill or palette.fill,
            edgecolor=palette.edge,
            linewidth=width,
            linestyle=(0, (6, 3)) if dashed else "solid",
            zorder=zorder,
        )
    )


def draw_box(
    ax: Axes,
    box: Box,
    palette: Palette,
    title: str,
    lines: tuple[str, ...] = (),
    *,
    title_size: float = 12.5,
    line_size: float = 9.5,
) -> Box:
    """A rounded box with a bold title and smaller lines, the block centred vertically."""
    rounded(ax, box, palette)
    line_height = 2.9
    top = box.y + box.h / 2 + (3.6 + line_height * len(lines)) / 2
    centre = box.x + box.w / 2
    write(ax, centre, top - 1.6, title, size=title_size, color=INK, bold=True)
    for index, line in enumerate(lines):
        write(ax, centre, top - 4.6 - index * line_height, line, size=line_size)
    return box


def draw_group(ax: Axes, box: Box, palette: Palette, title: str) -> Box:
    """A white container with a dashed outline and its title in the top left corner."""
    rounded(ax, box, palette, fill="white", width=1.6, rounding=2.2, dashed=True, zorder=1)
    write(ax, box.x + 2, box.y + box.h - 2.4, title, size=12.5, color=palette.edge, bold=True, align="left")
    return box


def draw_replicas(
    ax: Axes,
    box: Box,
    palette: Palette,
    title: str,
    lines: tuple[str, ...] = (),
    *,
    step: float = 1.2,
    title_size: float = 12.5,
) -> Box:
    """A scalable service: two shadow boxes behind the front one."""
    for offset in (2 * step, step):
        rounded(ax, Box(box.x + offset, box.y + offset, box.w, box.h), palette, width=1.2, zorder=1.5)
    return draw_box(ax, box, palette, title, lines, title_size=title_size)


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    *,
    label_at: float = 0.5,
    label_offset: tuple[float, float] = (0.0, 0.0),
) -> None:
    """A straight arrow from start to end with an optional label at a fraction of its length."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=16,
            color=INK,
            linewidth=1.6,
            zorder=4,
            shrinkA=2,
            shrinkB=2,
        )
    )
    if label:
        x = start[0] + (end[0] - start[0]) * label_at + label_offset[0]
        y = start[1] + (end[1] - start[1]) * label_at + label_offset[1]
        write(ax, x, y, label, size=9.5, color=INK, boxed=True)


def elbow_arrow(ax: Axes, points: list[tuple[float, float]], label: str) -> None:
    """An arrow along straight segments through `points`, labelled in the middle of its longest segment."""
    ax.add_patch(
        FancyArrowPatch(
            path=MplPath(points), arrowstyle="-|>", mutation_scale=16, color=INK, linewidth=1.6, zorder=4
        )
    )
    segments = zip(points, points[1:], strict=False)
    (x1, y1), (x2, y2) = max(segments, key=lambda seg: abs(seg[1][0] - seg[0][0]))
    write(ax, (x1 + x2) / 2, (y1 + y2) / 2, label, size=9.5, color=INK, boxed=True)


def user(ax: Axes, box: Box, who: str, what: str) -> Box:
    """Someone using the system: a grey pill with their role and what they do."""
    return draw_box(ax, box, USER, who, (what,), title_size=10.5, line_size=9.5)


def draw_services(ax: Axes) -> None:
    """Lay out every component and flow of the stack on `ax`."""
    write(
        ax,
        4,
        97,
        "covertype: batch ingestion and retraining for forest cover types",
        size=17,
        color=INK,
        bold=True,
        align="left",
    )
    write(
        ax,
        4,
        93.2,
        "the docker compose stack: one box per service  ·  stacked boxes are replicas "
        "(docker compose up --scale)  ·  grey: the people who use it",
        size=10.5,
        align="left",
    )

    # -- row 1: data source, data API, Airflow -------------------------------------------------------
    dataset = draw_box(
        ax,
        Box(3, 48, 21, 14),
        DATA,
        "Dataset",
        ("UCI covertype, 581k rows", "file (read-only mount)", "or scikit-learn download"),
    )
    api_data = draw_box(
        ax,
        Box(30.5, 46, 25, 18),
        DATA,
        "api-data",
        ("FastAPI  :8000", "GET /data?group_number=N", "one batch per interval", "state: SQLite volume"),
    )
    airflow = draw_group(ax, Box(62, 40, 95, 40), AIRFLOW, "Airflow 3  ·  CeleryExecutor")
    chips = ("api-server", "scheduler", "dag-processor", "triggerer", "workers ×N", "PostgreSQL", "Redis")
    gap = 1.8
    chip_width = (airflow.w - 6 - gap * (len(chips) - 1)) / len(chips)
    for index, chip in enumerate(chips):
        chip_box = Box(airflow.x + 2 + index * (chip_width + gap), 67.5, chip_width, 6)
        if chip.endswith("×N"):
            draw_replicas(ax, chip_box, AIRFLOW, chip, step=0.7, title_size=8.8)
        else:
            draw_box(ax, chip_box, AIRFLOW, chip, title_size=8.8)
    ingest = draw_box(
        ax,
        Box(66, 46, 28, 16),
        AIRFLOW,
        "covertype_ingest",
        ("poll the group's batch", "validate, store, dedupe", "champion scores it, drift"),
    )
    asset = draw_box(ax, Box(99, 49, 20, 10), AIRFLOW, "Asset", ("covertype_raw",), title_size=10.5)
    train = draw_box(
        ax,
        Box(124, 46, 29, 16),
        AIRFLOW,
        "covertype_train",
        ("validate, split, train", "candidates, evaluate,", "register, promote"),
    )

    # -- row 2: stores and registry --------------------------------------------------------------------
    mysql = draw_box(
        ax,
        Box(62, 14, 34, 20),
        STORE,
        "MySQL 8.4",
        (
            "covertype: forest_cover_data,",
            "ingestion_runs, forest_cover_rejected,",
            "predictions",
            "mlflow: tracking + registry",
        ),
    )
    mlflow = draw_box(
        ax,
        Box(104, 14, 25, 20),
        REGISTRY,
        "MLflow server",
        (":5000  experiment covertype", "model covertype", "alias @champion", "artifacts proxied"),
    )
    minio = draw_box(
        ax,
        Box(137, 14, 20, 20),
        STORE,
        "MinIO",
        ("S3 :9000, console :9001", "bucket mlflows3", "bucket snapshots"),
    )

    # -- serving ---------------------------------------------------------------------------------------
    lb = draw_box(
        ax,
        Box(3, 16, 21, 16),
        SERVING,
        "inference-lb",
        ("nginx  :8001", "Docker DNS, re-resolved", "every 10 s"),
    )
    inference = draw_replicas(
        ax,
        Box(31, 14, 23, 18),
        SERVING,
        "inference-api",
        ("FastAPI  ×N replicas", "POST /predict", "POST /predict/batch", "GET /model, /ready"),
    )

    # -- people ----------------------------------------------------------------------------------------
    poller = user(ax, Box(30.5, 70, 25, 8), "data client", "poll by group (curl)")
    operator = user(ax, Box(90, 83, 40, 8), "operator", "trigger and watch DAGs: Airflow UI :8080")
    scientist = user(ax, Box(101, 1, 31, 7), "data scientist", "runs, metrics, registry: MLflow UI :5000")
    predictor = user(ax, Box(3, 1, 21, 7), "application", "POST /predict on :8001")

    # -- flows -----------------------------------------------------------------------------------------
    arrow(ax, dataset.right, api_data.left)
    arrow(ax, poller.bottom, api_data.top)
    arrow(ax, api_data.right, ingest.left, "JSON batch", label_offset=(0, 2.2))
    arrow(ax, ingest.right, asset.left)
    arrow(ax, asset.right, train.left)
    arrow(ax, operator.bottom, (operator.bottom[0], airflow.y + airflow.h))
    arrow(ax, ingest.at(0.4, 0), mysql.at(0.4, 1), "rows", label_at=0.75)
    arrow(ax, mysql.at(0.85, 1), train.at(0.12, 0), "training rows", label_at=0.25)
    arrow(ax, train.at(0.45, 0), mlflow.at(0.7, 1), "runs, models, alias", label_at=0.75)
    arrow(ax, train.at(0.9, 0), minio.at(0.6, 1), "snapshots", label_at=0.75)
    arrow(ax, mlflow.right, minio.left, "artifacts", label_offset=(0, 2.4))
    arrow(ax, mlflow.left, mysql.right, "metadata", label_offset=(0, 2.4))
    arrow(ax, scientist.top, mlflow.bottom)
    arrow(ax, predictor.top, lb.bottom)
    arrow(ax, lb.right, inference.left)
    arrow(ax, (inference.x + inference.w + 2.4, inference.y + 9), mysql.at(0, 0.45))
    champion_from, champion_to = inference.at(0.55, 0), mlflow.at(0.12, 0)
    elbow_arrow(
        ax,
        [champion_from, (champion_from[0], 10.6), (champion_to[0], 10.6), champion_to],
        "loads models:/covertype@champion",
    )


#: The role of each part of the package, for its colour; parts not listed are shared helpers (grey).
ROLES: dict[str, tuple[str, Palette]] = {
    **dict.fromkeys(("schema", "settings", "pause_points", "store", "registry"), ("foundation", STORE)),
    **dict.fromkeys(("model", "ingestion", "training", "monitoring", "orchestration"), ("pipeline", AIRFLOW)),
    **dict.fromkeys(("data_api", "inference", "ui"), ("service", SERVING)),
    **dict.fromkeys(("cli", "local_stack", "demo"), ("entry point", REGISTRY)),
}
HELPER = ("helper", USER)
PART_GAP = 3.0
LEFT_MARGIN = 14.0


def ordered_layers(graph: dict[str, set[str]], layer_of: dict[str, int]) -> list[list[str]]:
    """The parts of each layer (bottom first), ordered so arrows cross little: each part near the mean
    position of the parts it imports (sweeping up), then of those importing it (sweeping down)."""
    rows = [
        sorted(part for part, layer in layer_of.items() if layer == index)
        for index in range(max(layer_of.values()) + 1)
    ]
    importers = {part: {source for source, targets in graph.items() if part in targets} for part in graph}

    def positions() -> dict[str, float]:
        return {part: (index + 0.5) / len(row) for row in rows for index, part in enumerate(row)}

    def resort(row: list[str], neighbours: dict[str, set[str]]) -> list[str]:
        where = positions()
        mean = {
            part: sum(where[n] for n in sorted(neighbours[part])) / len(neighbours[part])
            for part in row
            if neighbours[part]
        }
        return sorted(row, key=lambda part: (mean.get(part, where[part]), part))

    for _ in range(2):
        for index in range(1, len(rows)):
            rows[index] = resort(rows[index], graph)
        for index in range(len(rows) - 2, -1, -1):
            rows[index] = resort(rows[index], importers)
    return rows


def part_boxes(rows: list[list[str]]) -> dict[str, Box]:
    """One box per part, each layer a row (layer 0 at the bottom), rows centred in the panel."""
    usable = WIDTH - LEFT_MARGIN - 3
    widest = max(len(row) for row in rows)
    width = min(22.0, (usable - PART_GAP * (widest - 1)) / widest)
    pitch = min(15.0, (PACKAGE_HEIGHT - 14) / len(rows))
    height = min(8.0, pitch * 0.55)
    boxes = {}
    for layer, row in enumerate(rows):
        span = len(row) * width + (len(row) - 1) * PART_GAP
        left = LEFT_MARGIN + (usable - span) / 2
        y = 3 + layer * pitch
        for index, part in enumerate(row):
            boxes[part] = Box(left + index * (width + PART_GAP), y, width, height)
    return boxes


def draw_import_arrows(ax: Axes, graph: dict[str, set[str]], boxes: dict[str, Box]) -> None:
    """One arrow per importing pair, from the importer's bottom edge to the imported part's top edge,
    the ends spread along each edge in the order of the boxes at their other ends."""
    importers = {
        part: sorted((s for s in graph if part in graph[s]), key=lambda s: (boxes[s].x, s)) for part in graph
    }
    for part in sorted(graph):
        targets = sorted(graph[part], key=lambda target: (boxes[target].x, target))
        for index, target in enumerate(targets):
            arrivals = importers[target]
            ax.add_patch(
                FancyArrowPatch(
                    boxes[part].at((index + 1) / (len(targets) + 1), 0),
                    boxes[target].at((arrivals.index(part) + 1) / (len(arrivals) + 1), 1),
                    arrowstyle="-|>",
                    mutation_scale=11,
                    color=ROLES.get(part, HELPER)[1].edge,
                    alpha=0.75,
                    linewidth=1.1,
                    zorder=1.5,  # under the boxes: an arrow passing a layer hides behind its boxes
                    shrinkA=0,
                    shrinkB=0,
                )
            )


def draw_package(ax: Axes, source: Path, graph: dict[str, set[str]]) -> None:
    """The package panel: one box per part of covertype in its layer, one arrow per importing pair."""
    rows = ordered_layers(graph, layers(graph))
    boxes = part_boxes(rows)
    scanned = modules(source)
    sizes = Counter(module.part for module in scanned)
    packages = {module.part for module in scanned if module.is_package}
    roles = "  ·  ".join(
        f"{role}: {', '.join(sorted(p for p, (r, _) in ROLES.items() if r == role and p in graph))}"
        for role in ("entry point", "service", "pipeline", "foundation")
    )
    write(
        ax, 4, PACKAGE_HEIGHT - 3, "the package: src/covertype", size=17, color=INK, bold=True, align="left"
    )
    write(
        ax,
        4,
        PACKAGE_HEIGHT - 6.8,
        "one box per top-level package (/) or module  ·  A → B: a module of A imports from B (ast scan)  ·  "
        "layer: the longest import path down",
        size=10.5,
        align="left",
    )
    write(ax, 4, PACKAGE_HEIGHT - 9.8, roles + "  ·  grey: helpers", size=9.5, align="left")
    for layer, row in enumerate(rows):
        first = boxes[row[0]]
        write(ax, 4, first.y + first.h / 2, f"layer {layer}", size=10, align="left")
    for part, box in boxes.items():
        detail = f"{sizes[part]} module{'s' if sizes[part] > 1 else ''}" if part in packages else "module"
        name = part + ("/" if part in packages else "")
        draw_box(ax, box, ROLES.get(part, HELPER)[1], name, (detail,), title_size=10.5, line_size=8.5)
    draw_import_arrows(ax, graph, boxes)


def panel(figure: plt.Figure, bottom: float, height: float) -> Axes:
    """An axes across the figure from `bottom` up `height` (figure fractions), 10 diagram units per inch."""
    inches_wide, inches_high = figure.get_size_inches()
    ax = figure.add_axes((0.01, bottom, 0.98, height))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, WIDTH * (height * inches_high) / (0.98 * inches_wide))
    ax.set_axis_off()
    return ax


def render(output: Path = DEFAULT_OUTPUT, source: Path = DEFAULT_SOURCE) -> Path:
    """Draw both panels into `output` (PNG) and return the path; ImportCycle if the package has a cycle."""
    graph = package_graph(source)
    figure = plt.figure(figsize=(16, 18), dpi=110)
    inches_high = 18.0
    draw_package(panel(figure, 0.1 / inches_high, PACKAGE_HEIGHT / 10 / inches_high * 0.98), source, graph)
    draw_services(panel(figure, (PACKAGE_HEIGHT / 10 + 0.1) / inches_high, HEIGHT / 10 / inches_high * 0.98))
    output.parent.mkdir(parents=True, exist_ok=True)
    # The drawn imports as text, so that a test can tell a picture the code has outgrown.
    figure.savefig(output, facecolor="white", metadata={"Software": None, "Description": describe(graph)})
    plt.close(figure)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="PNG file to write")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the covertype package directory")
    arguments = parser.parse_args()
    try:
        print(render(arguments.output, arguments.source))
    except ImportCycle as cycle:
        sys.exit(f"{cycle}: the parts have no layers with every arrow pointing down; break the cycle first")


if __name__ == "__main__":
    main()
