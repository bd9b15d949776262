"""The capture: one SQLite file of flows (model, redaction, schema, writer, reader) and its import and export.

Modules: `model` (values), `redaction`, `analysis`, `schema` (SQL, version, migrations), `writer`
(CaptureWriter), `reader` (CaptureReader), `mitm` (mitmproxy flows and .mitm files), `har`, `xml_export`,
`importers/` (other forms of evidence), `share` (a capture that can be handed on). Import what you need from
its module: this package loads nothing, so the reader never pulls in mitmproxy.
"""
