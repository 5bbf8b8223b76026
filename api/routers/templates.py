"""The import template (导入模板) as one workbook: a sheet per layer and the 说明 notes sheet."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ..auth import Principal, viewer
from geo_service.core.glossary import word
from geo_service.core.io.template import template_tables
from geo_service.core.io.writers import _write_xlsx

router = APIRouter(tags=["datasets"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/v1/templates.xlsx", summary="Import template workbook (导入模板)",
            responses={200: {"content": {XLSX: {}}, "description": "the workbook"}})
def template_workbook(lang: Annotated[Literal["zh", "en"], Query(description="headers and notes")] = "zh",
                      _: Principal = Depends(viewer)) -> Response:
    """One sheet per layer (headers the importer reads, one example row) and a notes sheet saying for
    each column whether it is required, its unit and its datum; the example rows import as they are."""
    tables = template_tables(lang)
    notes = word("io_template_notes", lang)
    buf = io.BytesIO()
    _write_xlsx({(notes if k == "notes" else k): v for k, v in tables.items()}, buf)
    name = "template.xlsx"
    return Response(buf.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
