"""A fetched body that is not a page to parse (an image, a PDF, …) stored as a download."""

from __future__ import annotations

import asyncio

from ..domain.records import ClaimedPage, DownloadRecord
from ..ports import BlobWriter

__all__ = ["store_download"]


async def store_download(
    blobs: BlobWriter, page: ClaimedPage, body: bytes, content_type: str | None
) -> DownloadRecord:
    """Write the body as a blob (off the loop) and describe it. Not fsynced here: the batch
    commit syncs every blob it names once, before its COMMIT (a blob is durable before its row)."""
    sha, rel = await asyncio.to_thread(blobs.write, body, compress=False, sync=False)
    return DownloadRecord(
        url=page.url,
        storage_path=rel,
        mime_type=content_type or "application/octet-stream",
        size=len(body),
        sha256=sha,
        referer_page_id=page.parent_id,
    )
