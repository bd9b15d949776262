"""viewer.diff: element-by-element differences of two decoded responses."""

from __future__ import annotations

from viewer.diff import Change, diff_xml, format_changes

NS = 'xmlns="AirSync" xmlns:airsyncbase="AirSyncBase" xmlns:wbxml="urn:eas-inspector:wbxml"'


def test_identical_trees_have_no_changes() -> None:
    xml = f"<Sync {NS}><Status>1</Status></Sync>"
    assert diff_xml(xml, xml) == []
    assert format_changes([]) == "no differences"


def test_changed_text_added_and_removed_elements() -> None:
    old = f"<Sync {NS}><Collections><Collection><SyncKey>1</SyncKey><Status>1</Status><Class>Email</Class></Collection></Collections></Sync>"
    new = f"<Sync {NS}><Collections><Collection><SyncKey>2</SyncKey><Status>3</Status><MoreAvailable/></Collection></Collections></Sync>"
    assert diff_xml(old, new) == [
        Change("changed", "/Sync/Collections/Collection/SyncKey", "1", "2"),
        Change("changed", "/Sync/Collections/Collection/Status", "1", "3"),
        Change("removed", "/Sync/Collections/Collection/Class", "<Class>Email", None),
        Change("added", "/Sync/Collections/Collection/MoreAvailable", None, "<MoreAvailable>"),
    ]


def test_comments_layout_and_marker_attributes_are_ignored() -> None:
    old = f"<Sync {NS}>\n  <Status wbxml:opaque='1'>1<!-- Success --></Status>\n</Sync>"
    new = f"<Sync {NS}><Status>1</Status><!-- a note --></Sync>"
    assert diff_xml(old, new) == []


def test_prefixed_names_in_paths() -> None:
    old = f"<Sync {NS}><airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:Body></Sync>"
    new = f"<Sync {NS}><airsyncbase:Body><airsyncbase:Type>2</airsyncbase:Type></airsyncbase:Body></Sync>"
    assert diff_xml(old, new) == [Change("changed", "/Sync/airsyncbase:Body/airsyncbase:Type", "1", "2")]


def test_repeated_siblings_match_by_key_child() -> None:
    old = (
        f"<Sync {NS}><Collections>"
        "<Collection><CollectionId>5</CollectionId><Status>1</Status></Collection>"
        "<Collection><CollectionId>7</CollectionId><Status>1</Status></Collection>"
        "</Collections></Sync>"
    )
    new = (
        f"<Sync {NS}><Collections>"
        "<Collection><CollectionId>7</CollectionId><Status>8</Status></Collection>"
        "<Collection><CollectionId>9</CollectionId><Status>1</Status></Collection>"
        "</Collections></Sync>"
    )
    assert diff_xml(old, new) == [
        Change("removed", "/Sync/Collections/Collection[CollectionId=5]", "<Collection>…(2 children)", None),
        Change("changed", "/Sync/Collections/Collection[CollectionId=7]/Status", "1", "8"),
        Change("added", "/Sync/Collections/Collection[CollectionId=9]", None, "<Collection>…(2 children)"),
    ]


def test_repeated_siblings_without_keys_match_by_position() -> None:
    old = f"<Sync {NS}><Status>1</Status><Status>2</Status></Sync>"
    new = f"<Sync {NS}><Status>1</Status><Status>3</Status><Status>4</Status></Sync>"
    assert diff_xml(old, new) == [
        Change("changed", "/Sync/Status[2]", "2", "3"),
        Change("added", "/Sync/Status[3]", None, "<Status>4"),
    ]


def test_attributes_and_root_change() -> None:
    old = f"<Sync {NS}><Status a='1'>1</Status></Sync>"
    new = f"<Sync {NS}><Status a='2' b='x'>1</Status></Sync>"
    assert diff_xml(old, new) == [
        Change("changed", "/Sync/Status/@a", "1", "2"),
        Change("added", "/Sync/Status/@b", None, "x"),
    ]
    assert diff_xml("<A/>", "<B/>") == [Change("changed", "/", "<A>", "<B>")]


def test_leaf_becoming_container_and_format() -> None:
    changes = diff_xml("<A><B>x</B></A>", "<A><B><C/></B></A>")
    assert changes == [Change("changed", "/A/B", "<B>x", "<B>…(1 children)")]
    assert format_changes(changes) == "~ /A/B: '<B>x' -> '<B>…(1 children)'"


def test_not_well_formed_raises_value_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="not well-formed"):
        diff_xml("<A>", "<A/>")


def test_entities_are_not_expanded() -> None:
    evil = '<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>'
    changes = diff_xml(evil, "<a>boom</a>")
    assert changes and changes[0].old != "boom"
