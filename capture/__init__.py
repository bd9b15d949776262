"""The capture layer: reading, writing, importing and exporting captures (eas-inspector's own files and mitmproxy's)."""
