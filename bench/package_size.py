"""Deployment package: the zip `chalice package` builds for the app, and what fills it.

    .venv/bin/python -m bench.package_size [--stage dev] [--top 12]

Builds the package as deploy/package.py does (into build/bench-package/; the first build
downloads Lambda wheels from the package index, later ones use Chalice's cache), then sizes the
zip per distribution (files mapped through each wheel's RECORD) and says which requirement
pulled each one in. The zip is kept for bench.cold_start, which times `import app` from it.
Then the layer of document readers only the ingestion function carries (deploy/package.py),
less what the zip already holds, and the two together against Lambda's 250 MB unpacked.
"""

from __future__ import annotations

import argparse
import re
import time
import zipfile
from collections import defaultdict
from pathlib import Path

from bench._common import PROJECT_DIR, machine, table, verdict

TARGET_MB = 15.0
OUT_DIR = PROJECT_DIR / "build" / "bench-package"
APP = "(the app: app.py, chalicelib)"
RUNTIME = "(chalice runtime)"


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def owners(archive: zipfile.ZipFile) -> tuple[dict[str, str], dict[str, list[str]]]:
    """file -> distribution (from each *.dist-info/RECORD), and distribution -> what it requires."""
    owner: dict[str, str] = {}
    requires: dict[str, list[str]] = {}
    for info in archive.infolist():
        folder, _, leaf = info.filename.rpartition("/")
        if not folder.endswith(".dist-info"):
            continue
        dist = _name(folder[: -len(".dist-info")].rsplit("-", 1)[0])
        if leaf == "RECORD":
            for line in archive.read(info).decode().splitlines():
                if line:
                    owner[line.split(",")[0]] = dist
        elif leaf == "METADATA":
            requires[dist] = [
                _name(re.split(r"[ ;<>=!~\[(]", line.split(":", 1)[1].strip())[0])
                for line in archive.read(info).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line
            ]
    return owner, requires


def pulled_in_by(requirements: list[str], requires: dict[str, list[str]]) -> dict[str, str]:
    """For each distribution, the top-level requirement whose dependency tree holds it."""
    via: dict[str, str] = {}
    for top in requirements:
        stack = [top]
        while stack:
            dist = stack.pop()
            if dist in via:
                continue
            via[dist] = top
            stack.extend(requires.get(dist, []))
    return via


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--top", type=int, default=12, help="distributions to list (default 12)")
    args = parser.parse_args()

    from deploy.package import ZIP_FILE, chalice_package

    start = time.perf_counter()
    chalice_package(args.stage, OUT_DIR)
    built = time.perf_counter() - start
    path = OUT_DIR / ZIP_FILE
    requirements = [
        _name(re.split(r"[ ;<>=!~\[]", line.strip())[0])
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    with zipfile.ZipFile(path) as archive:
        owner, requires = owners(archive)
        via = pulled_in_by(requirements, requires)
        packed: dict[str, int] = defaultdict(int)
        unpacked: dict[str, int] = defaultdict(int)
        files: dict[str, int] = defaultdict(int)
        bytecode = 0
        for info in archive.infolist():
            name = info.filename
            top = name.split("/")[0]
            if name in owner:
                dist = owner[name]
            elif top in ("app.py", "chalicelib"):
                dist = APP
            elif top == "chalice":
                dist = RUNTIME
            else:
                dist = top
            packed[dist] += info.compress_size
            unpacked[dist] += info.file_size
            files[dist] += 1
            bytecode += name.endswith(".pyc")
    size = Path(path).stat().st_size
    ranked = sorted(packed, key=lambda d: -packed[d])
    rows = [
        (
            dist,
            f"{packed[dist] / 2**20:.2f}",
            f"{packed[dist] / size:.0%}",
            f"{unpacked[dist] / 2**20:.1f}",
            files[dist],
            via.get(dist, "" if dist.startswith("(") else "?"),
        )
        for dist in ranked[: args.top]
    ]
    rest = ranked[args.top :]
    if rest:
        rows.append(
            (
                f"{len(rest)} others",
                f"{sum(packed[d] for d in rest) / 2**20:.2f}",
                f"{sum(packed[d] for d in rest) / size:.0%}",
                f"{sum(unpacked[d] for d in rest) / 2**20:.1f}",
                sum(files[d] for d in rest),
                "",
            )
        )

    print(machine())
    print(f"chalice package --stage {args.stage}: built in {built:.0f} s\n")
    table(
        "The deployment zip by distribution (MB)",
        ("distribution", "in zip", "share", "unpacked", "files", "required via"),
        rows,
    )
    total_unpacked = sum(unpacked.values()) / 2**20
    print(
        f"zip: {size / 2**20:.2f} MB (target <= {TARGET_MB:g} MB) -> {verdict(size / 2**20 <= TARGET_MB)};"
        f" unpacked {total_unpacked:.1f} MB (Lambda allows 250 MB); .pyc files in the zip: {bytecode}"
    )

    from deploy.package import build_readers_layer, without_shared

    layer = without_shared(build_readers_layer(), path, OUT_DIR / "readers-layer.zip")
    with zipfile.ZipFile(layer) as archive:
        by_top: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for info in archive.infolist():
            top = re.sub(r"-[^-]+\.dist-info$", "", info.filename.split("/")[1])
            by_top[top][0] += info.compress_size
            by_top[top][1] += info.file_size
    layer_unpacked = sum(u for _, u in by_top.values()) / 2**20
    biggest = sorted(by_top, key=lambda top: -by_top[top][0])[: args.top]
    table(
        "The ingestion function's layer of document readers, by top-level folder (MB)",
        ("folder", "in zip", "unpacked"),
        [(top, f"{by_top[top][0] / 2**20:.2f}", f"{by_top[top][1] / 2**20:.1f}") for top in biggest],
    )
    together = total_unpacked + layer_unpacked
    print(
        f"layer: {layer.stat().st_size / 2**20:.2f} MB (over the 50 MB of a direct upload: put through"
        f" S3); unpacked {layer_unpacked:.1f} MB; with the zip {together:.1f} MB of Lambda's 250 MB"
        f" -> {verdict(together <= 250)}"
    )


if __name__ == "__main__":
    main()
