"""The facts every layer shares: the EAS and Autodiscover path rules, the content types, the marker namespace."""

from __future__ import annotations

import pytest

from eas import analyze
from eas.constants import (
    MULTIPART_CONTENT_TYPE,
    WBXML_CONTENT_TYPES,
    WBXML_NS,
    is_autodiscover_path,
    is_eas_path,
    path_kind,
)


@pytest.mark.parametrize("path", [
    "/Microsoft-Server-ActiveSync",  # MS-ASHTTP 2.2.1.1.1
    "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=D1&DeviceType=SmartPhone",
    "/microsoft-server-activesync",  # the name compares case-insensitively
    "/SOGo/Microsoft-Server-ActiveSync?Cmd=FolderSync",  # behind a front end's prefix
    "/Microsoft-Server-ActiveSync/Proxy/mail.example.com",  # Exchange's proxying
    "/Microsoft-Server-ActiveSync#fragment",
    "/Microsoft%2DServer-ActiveSync?Cmd=Ping",  # %2D is "-"
    "https://mail.example.com/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNl",
])
def test_eas_paths_are_recognised(path: str) -> None:
    assert is_eas_path(path)
    assert path_kind(path) == "eas"


@pytest.mark.parametrize("path", [
    "/Microsoft-Server-ActiveSyncX",  # another resource whose name starts the same
    "/Microsoft-Server-ActiveSync.aspx",
    "/EWS/Exchange.asmx",
    "/",
    "",
    "/x?redirect=/Microsoft-Server-ActiveSync",  # the name in the query is not the path
    "Microsoft-Server-ActiveSync",  # no leading slash: not a path segment
])
def test_other_paths_are_not_eas(path: str) -> None:
    assert not is_eas_path(path)


@pytest.mark.parametrize("path", [
    "/autodiscover/autodiscover.xml",  # MS-OXDSCLI POX
    "/Autodiscover/Autodiscover.xml",
    "/autodiscover/autodiscover.json?Email=alice@example.com&Protocol=ActiveSync",
    "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync",
])
def test_autodiscover_paths_are_recognised(path: str) -> None:
    assert is_autodiscover_path(path)
    assert not is_eas_path(path)
    assert path_kind(path) == "autodiscover"


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xmlx", "/autodiscover/other.xml", "/autodiscover"])
def test_other_paths_are_not_autodiscover(path: str) -> None:
    assert not is_autodiscover_path(path)
    assert path_kind(path) is None


def test_content_types_and_namespace_are_the_documented_ones() -> None:
    # MS-ASHTTP 2.2.1.1.2.2: the WBXML type and its short form; MS-ASCMD: the multipart ItemOperations answer
    assert WBXML_CONTENT_TYPES == {"application/vnd.ms-sync.wbxml", "application/vnd.ms-sync"}
    assert MULTIPART_CONTENT_TYPE == "application/vnd.ms-sync.multipart"
    assert WBXML_NS == "urn:eas-inspector:wbxml"


def test_the_analysis_uses_the_same_path_rule() -> None:
    assert analyze("OPTIONS", "/SOGo/Microsoft-Server-ActiveSync", [], b"").is_eas
    assert not analyze("OPTIONS", "/Microsoft-Server-ActiveSyncX", [], b"").is_eas
    assert analyze("GET", "/autodiscover/autodiscover.xml", [], b"").is_autodiscover
