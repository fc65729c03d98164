"""The audit report as a PDF, rendered by WeasyPrint from the same HTML as the print page.

WeasyPrint gets no URL fetcher beyond ``data:`` URIs: thumbnails are embedded, nothing is
fetched over the network, and no file path from the database reaches it.
"""

from __future__ import annotations

import base64

from flask import render_template

from audit.storage import StorageError, get_storage


def thumbnails_as_data_uris(contents: dict) -> dict[int, str]:
    """evidence id → ``data:image/jpeg;base64,...`` for every cited photo's thumbnail."""
    storage = get_storage()
    uris = {}
    for files in contents["finding_files"].values():
        for ev in files:
            if ev.thumbnail_key:
                try:
                    data = storage.get(ev.thumbnail_key)
                except StorageError:
                    continue
                uris[ev.id] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return uris


def render_report_pdf(contents: dict) -> bytes:
    """PDF bytes of the report."""
    from weasyprint import HTML, URLFetcher  # imported here: a slow import only PDFs need

    html = render_template("conduct/report_print.html", **contents,
                           thumbs=thumbnails_as_data_uris(contents), for_pdf=True)
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()
