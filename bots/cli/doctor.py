"""``qa doctor``: which runtime answers, from which model files, with their checksums."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from bots.cli.app import EXIT_ERROR, JsonOption, app, out, settings
from qa.runtime.diagnostics import rebuild, runtime_report


@app.command()
def doctor(
    ctx: typer.Context,
    rebuild_files: Annotated[
        bool, typer.Option("--rebuild", help="Make the ONNX files again from the pinned weights.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the runtime (ONNX Runtime or torch), the model files in use and their SHA-256 checksums,
    each file read and hashed in full."""
    current = settings(ctx)
    report = rebuild(current) if rebuild_files else runtime_report(current)
    if as_json:
        data = asdict(report) | {"healthy": report.healthy}
        data["files"] = [asdict(f) | {"path": str(f.path), "status": f.status} for f in report.files]
        out.print_json(json.dumps(data))
    else:
        quantized = " (reader int8)" if report.quantize and report.runtime == "onnx" else ""
        out.print(f"runtime: {report.runtime}{quantized}", markup=False)
        out.print(f"model: {report.model}; reader: {report.reader}", markup=False)
        out.print("versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()), markup=False)
        for item in report.files:
            digest = item.sha256 or "-"
            out.print(f"{item.status:9}  {item.role:28}  {digest}  {item.path}", markup=False)
    if not report.healthy:
        raise typer.Exit(EXIT_ERROR)
