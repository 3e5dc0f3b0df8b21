"""Content-Disposition built by werkzeug; project attachments never served with the uploader's type; CSV cells."""
from __future__ import annotations

import io

from werkzeug.http import parse_options_header

from app.platform.downloads import download_name


def test_download_names_lose_control_characters_and_slashes():
    assert download_name('re"port\r\n.pdf') == 're"port_.pdf'
    assert download_name("../../etc/passwd") == "_.._etc_passwd"
    assert download_name("") == "download" and download_name("\x00", "file") == "_"


def _project_with_attachment(owner, filename: str, data: bytes, content_type: str):
    from app.projects import services

    project = services.project_create(owner=owner, project_type="school", name="Notes", course_name="Law",
                                      course_code="L1", teacher_name="T")
    attachment = services.attachment_add(project=project, user=owner, filename=filename, stream=io.BytesIO(data),
                                         content_type=content_type)
    return project, attachment


def test_attachment_names_outside_latin1_and_with_quotes_download(app, admin):
    from tests.helpers import signed_in

    client, _auth = signed_in(app, admin)
    for name in ('日本語 "quoted"; x=y.html', "naïve résumé.pdf", "plain.txt"):
        project, attachment = _project_with_attachment(admin, name, b"<script>alert(1)</script>", "text/html")
        response = client.get(f"/projects/{project.id}/attachments/{attachment.id}")
        assert response.status_code == 200 and response.data == b"<script>alert(1)</script>"
        assert response.mimetype == "application/octet-stream"  # never the text/html the uploader claimed
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        if name == "plain.txt":
            assert disposition == "attachment; filename=plain.txt"
        else:  # RFC 5987: the real name, percent-encoded; a quote in the name can't add a parameter
            kind, params = parse_options_header(disposition)
            assert kind == "attachment" and set(params) == {"filename"}  # werkzeug folds filename* into filename
            assert params["filename"] == name


def test_csv_cells_starting_with_semicolon_or_pipe_are_neutralised():
    from app.exports.writers import neutralise

    for value in (";cmd", "|cmd", "=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(value) == "'" + value
    assert neutralise("plain") == "plain" and neutralise(5) == 5
