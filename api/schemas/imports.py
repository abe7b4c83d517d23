"""HTTP schemas of CSV imports: what an import created, or would create in a dry run."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dispatch.imports import Kind


class ImportRead(BaseModel):
    kind: Kind
    dry_run: bool = Field(description="True: the rows were only checked; nothing was written.")
    rows: int = Field(description="Data rows in the file (blank lines left out).", examples=[3])
    created: int = Field(description="Rows created; 0 in a dry run.", examples=[3])
    codes: list[str] = Field(
        description="Codes of the created rows in file order (new SR- codes for requests).",
        examples=[["T-101", "T-102", "T-103"]],
    )
