"""eas.rules.collection_rules: the exact text of each finding, and each rule's conditions at their edges."""

from __future__ import annotations

from eas.diagnosis import Diagnoser, Finding, FlowEvidence, diagnose
from eas.facts import CollectionStep, FlowFacts
from tests.eas.test_diagnosis import CALENDAR, INBOX, ev, folders, only, ping, plain, sync


def said(findings: list[Finding], rule: str) -> list[tuple[str, tuple[int, ...], str]]:
    """The rule's findings as (severity, flows, summary)."""
    return [(finding.severity, finding.flows, finding.summary) for finding in only(findings, rule)]


def steps(*collections: CollectionStep, http: int | None = 200, **facts: object) -> FlowFacts:
    """A Sync of several collections (or one collection twice)."""
    return FlowFacts(command="Sync", http_status=http, collections=collections, **facts)  # type: ignore[arg-type]


# --- sync-key-invalid-loop (MS-ASCMD 2.2.3.177.17 Status (Sync) 3; 2.2.3.177.5 Status (FolderSync) 9)

INVALID_LOOP_ADVICE = (
    "After this status the client must drop its state for the collection and send SyncKey 0 (then add back what it "
    "had not synced); a client that keeps its key never recovers. Remove and add the account on the device, and "
    "report the client's behaviour to its vendor."
)


def test_invalid_key_sent_once_more_is_reported_with_its_exact_text() -> None:
    (finding,) = only(diagnose([ev(1, folders()), ev(2, sync("k5", None, 3)), ev(3, sync("k5", None, 3))]),
                      "sync-key-invalid-loop")
    assert (finding.severity, finding.flows) == ("error", (2, 3))
    assert finding.summary == ("INBOX (2): the server refused SyncKey k5 (Status 3) and the client sent a non-zero "
                               "SyncKey again 1 time instead of starting over at 0.")
    assert finding.advice == INVALID_LOOP_ADVICE


def test_invalid_hierarchy_key_names_the_folder_hierarchy() -> None:
    bad = plain("FolderSync", status=9, folder_sync_key_request="h7")
    assert said(diagnose([ev(1, bad), ev(2, bad), ev(3, bad)]), "sync-key-invalid-loop") == [
        ("error", (1, 2, 3), "the folder hierarchy: the server refused SyncKey h7 (Status 9) and the client sent a "
                             "non-zero SyncKey again 2 times instead of starting over at 0.")]


def test_a_collection_without_a_folder_name_is_named_by_its_id() -> None:
    flows = [ev(1, sync("k5", None, 3, collection="9")), ev(2, sync("k5", None, 3, collection="9"))]
    assert said(diagnose(flows), "sync-key-invalid-loop") == [
        ("error", (1, 2), "collection 9: the server refused SyncKey k5 (Status 3) and the client sent a non-zero "
                          "SyncKey again 1 time instead of starting over at 0.")]


def test_each_command_has_its_own_invalid_status() -> None:
    # Sync Status 9 and FolderSync Status 3 are not "invalid SyncKey"
    assert only(diagnose([ev(1, sync("k5", None, 9)), ev(2, sync("k5", None, 9))]), "sync-key-invalid-loop") == []
    bad_hierarchy = plain("FolderSync", status=3, folder_sync_key_request="h7")
    assert only(diagnose([ev(1, bad_hierarchy), ev(2, bad_hierarchy)]), "sync-key-invalid-loop") == []


def test_a_request_without_a_key_neither_continues_nor_ends_the_loop() -> None:
    flows = [ev(1, sync("k5", None, 3)), ev(2, sync(None, None, 3)), ev(3, sync("k5", None, 3))]
    assert said(diagnose(flows), "sync-key-invalid-loop") == [
        ("error", (1, 3), "collection 2: the server refused SyncKey k5 (Status 3) and the client sent a non-zero "
                          "SyncKey again 1 time instead of starting over at 0.")]


def test_a_refused_zero_key_opens_no_loop() -> None:
    flows = [ev(1, sync("0", None, 3)), ev(2, sync("0", None, 3)), ev(3, sync("k1", "k2"))]
    assert only(diagnose(flows), "sync-key-invalid-loop") == []


def test_an_accepted_key_ends_the_loop_and_a_later_refusal_opens_another() -> None:
    flows = [ev(1, sync("k5", None, 3)), ev(2, sync("k5", "k6")),  # sent again (reported), then accepted
             ev(3, sync("k6", None, 3)), ev(4, sync("k6", None, 3))]
    assert said(diagnose(flows), "sync-key-invalid-loop") == [
        ("error", (1, 2), "collection 2: the server refused SyncKey k5 (Status 3) and the client sent a non-zero "
                          "SyncKey again 1 time instead of starting over at 0."),
        ("error", (3, 4), "collection 2: the server refused SyncKey k6 (Status 3) and the client sent a non-zero "
                          "SyncKey again 1 time instead of starting over at 0.")]


def test_a_zero_key_ends_the_loop() -> None:
    flows = [ev(1, sync("k5", None, 3)), ev(2, sync("0", "a1")), ev(3, sync("a1", "a2")), ev(4, sync("a2", "a3"))]
    assert only(diagnose(flows), "sync-key-invalid-loop") == []


# --- sync-key-reset-churn (MS-ASCMD 2.2.3 SyncKey (Sync))

CHURN_ADVICE = (
    "Look at what comes before each reset: a Status 3 (the server lost or refused the key), a FolderSync 0, or the "
    "client dropping its state by itself (a client bug or a storage-constrained device)."
)


def test_three_resets_after_a_sync_are_churn_with_its_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, sync("0", "a")), ev(3, sync("0", "b")), ev(4, sync("0", "c")),
             ev(5, sync("0", "d"))]
    (finding,) = only(diagnose(flows), "sync-key-reset-churn")
    assert (finding.severity, finding.flows) == ("warning", (3, 4, 5))
    assert finding.summary == ("INBOX (2) went back to SyncKey 0 3 times after it had synchronized: each time the "
                               "whole folder is downloaded again.")
    assert finding.advice == CHURN_ADVICE


def test_two_resets_are_not_churn() -> None:
    flows = [ev(1, sync("0", "a")), ev(2, sync("0", "b")), ev(3, sync("0", "c"))]
    assert only(diagnose(flows), "sync-key-reset-churn") == []


def test_what_counts_as_having_synchronized() -> None:
    resets = [ev(index, sync("0", None, 3)) for index in (2, 3, 4)]
    # a non-zero key sent, or a new key answered with Status 1 or no Status
    for first in (sync("k1", None, 3), sync("0", "a", 1), sync("0", "a", None)):
        assert said(diagnose([ev(1, first), *resets]), "sync-key-reset-churn") == [
            ("warning", (2, 3, 4), "collection 2 went back to SyncKey 0 3 times after it had synchronized: each time "
                                   "the whole folder is downloaded again.")], first
    # no key sent, key 0 or no key answered, or a new key with a failed Status
    for first in (sync(None, None, 1), sync("0", "0", 1), sync("0", None, 1), sync("0", "a", 3)):
        assert only(diagnose([ev(1, first), *resets]), "sync-key-reset-churn") == [], first


def test_resets_are_counted_per_collection() -> None:
    flows = [ev(1, sync("k1", "k2")), ev(2, sync("0", "a")), ev(3, sync("0", "b")),
             ev(4, sync("0", "c", collection=CALENDAR)), ev(5, sync("0", "d", collection=CALENDAR))]
    assert only(diagnose(flows), "sync-key-reset-churn") == []


# --- sync-key-replayed (MS-ASCMD 2.2.3 SyncKey (Sync))

REPLAYED_ADVICE = (
    "The client (or something between it and the server) dropped the response; when the response carried items, "
    "one of them is likely what the client cannot store: look at those items."
)


def test_a_replayed_key_with_items_names_them_in_its_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", server_ids_added=("2:7",), server_ids_updated=("2:8",),
                                          server_ids_deleted=("2:9",))),
             ev(3, sync("k1", "k2"))]
    (finding,) = only(diagnose(flows), "sync-key-replayed")
    assert (finding.severity, finding.flows) == ("warning", (2, 3))
    assert finding.summary == ("INBOX (2): the client sent SyncKey k1 again after the server had answered it with k2 "
                               "in flow 2: it did not accept that response. Items in that response: 2:7, 2:8, 2:9.")
    assert finding.advice == REPLAYED_ADVICE


def test_a_replayed_key_without_items_and_many_items() -> None:
    many = tuple(f"2:{number}" for number in range(1, 8))
    flows = [ev(1, sync("k1", "k2")), ev(2, sync("k1", "k2")), ev(3, sync("k2", "k3", server_ids_added=many)),
             ev(4, sync("k2", "k3"))]
    assert said(diagnose(flows), "sync-key-replayed") == [
        ("warning", (1, 2), "collection 2: the client sent SyncKey k1 again after the server had answered it with k2 "
                            "in flow 1: it did not accept that response."),
        ("warning", (3, 4), "collection 2: the client sent SyncKey k2 again after the server had answered it with k3 "
                            "in flow 3: it did not accept that response. Items in that response: 2:1, 2:2, 2:3, 2:4, "
                            "2:5 and 2 more.")]


def test_only_keys_the_server_advanced_with_success_are_remembered() -> None:
    # a failed Status, the same key answered, no key answered, key 0 sent
    for first in (sync("k1", "k2", 3), sync("k1", "k1"), sync("k1", None), sync("0", "k1")):
        sent = first.collections[0].request_sync_key
        assert only(diagnose([ev(1, first), ev(2, sync(sent, "k2"))]), "sync-key-replayed") == [], first
    # no Status at all counts as success
    assert said(diagnose([ev(1, sync("k1", "k2", None)), ev(2, sync("k1", "k2"))]), "sync-key-replayed") == [
        ("warning", (1, 2), "collection 2: the client sent SyncKey k1 again after the server had answered it with k2 "
                            "in flow 1: it did not accept that response.")]


def test_keys_are_remembered_per_collection() -> None:
    flows = [ev(1, sync("k1", "k2")), ev(2, sync("k1", "k2", collection=CALENDAR))]
    assert only(diagnose(flows), "sync-key-replayed") == []


def test_the_same_collection_twice_in_one_flow_is_not_a_replay() -> None:
    twice = steps(CollectionStep(INBOX, None, "k1", "k2", 1), CollectionStep(INBOX, None, "k1", "k2", 1))
    assert only(diagnose([ev(1, twice)]), "sync-key-replayed") == []


def test_only_the_latest_32_advanced_keys_are_remembered() -> None:
    def chain(length: int) -> list[FlowEvidence]:
        flows = [ev(index + 1, sync(f"a{index}", f"a{index + 1}")) for index in range(length)]
        return [*flows, ev(length + 1, sync("a0", "a1"))]  # the first key again

    assert [finding.flows for finding in only(diagnose(chain(32)), "sync-key-replayed")] == [(1, 33)]
    assert only(diagnose(chain(33)), "sync-key-replayed") == []
    # a key sent again (and advanced again) is the latest: the key before it is the first forgotten
    refreshed = [ev(1, sync("a0", "a1")), ev(2, sync("b0", "b1")),
                 *[ev(3 + index, sync(f"c{index}", f"c{index + 1}")) for index in range(30)],
                 ev(40, sync("a0", "a1")), ev(41, sync("d0", "d1")), ev(42, sync("a0", "a1")), ev(43, sync("b0", "b1"))]
    assert [finding.flows for finding in only(diagnose(refreshed), "sync-key-replayed")] == [(40, 42)]


# --- folder-sync-required-ignored (MS-ASCMD 2.2.3.177.17 Status (Sync) 12; 2.2.3.177.11 Status (Ping) 7)

HIERARCHY_ADVICE = (
    "The client must send FolderSync when told the hierarchy changed; until it does, folders that moved or were "
    "deleted keep failing."
)


def test_sync_status_12_ignored_names_the_collections_in_its_exact_text() -> None:
    stale = steps(CollectionStep(INBOX, None, "k1", None, 12), CollectionStep(CALENDAR, None, "c1", None, 12),
                  CollectionStep("9", None, "n1", "n2", 1))
    flows = [ev(1, folders()), ev(2, stale), ev(3, sync("k1", None, 12)), ev(4, ping(1))]
    (finding,) = only(diagnose(flows), "folder-sync-required-ignored")
    assert (finding.severity, finding.flows) == ("error", (2, 3, 4))
    assert finding.summary == ("The server answered Sync of INBOX (2), Calendar (8) with Status 12 (folder hierarchy "
                               "changed), and the client sent 2 more requests without a FolderSync.")
    assert finding.advice == HIERARCHY_ADVICE


def test_the_sync_and_ping_causes_in_their_exact_text() -> None:
    top = FlowFacts(command="Sync", http_status=200, statuses=(("Sync/Status", 12),))
    flows = [ev(1, top), ev(2, plain("GetItemEstimate")), ev(3, plain("MoveItems")), ev(4, plain("ItemOperations"))]
    assert said(diagnose(flows), "folder-sync-required-ignored") == [
        ("error", (1, 2, 3, 4), "The server answered a Sync with Status 12 (folder hierarchy changed), and the client "
                                "sent 3 more requests without a FolderSync.")]
    ignored = [ev(1, ping(7)), ev(2, sync("k1", "k2")), ev(3, ping(1))]
    assert said(diagnose(ignored), "folder-sync-required-ignored") == [
        ("error", (1, 2, 3), "The server answered a Ping with Status 7 (folder hierarchy changed), and the client sent "
                             "2 more requests without a FolderSync.")]


def test_one_request_after_the_status_may_have_been_on_its_way() -> None:
    assert only(diagnose([ev(1, ping(7)), ev(2, ping(1))]), "folder-sync-required-ignored") == []


def test_only_requests_that_need_the_hierarchy_count() -> None:
    flows = [ev(1, ping(7)), ev(2, plain("SendMail")), ev(3, plain("Settings")), ev(4, ping(1))]
    assert only(diagnose(flows), "folder-sync-required-ignored") == []


def test_other_statuses_ask_for_no_foldersync() -> None:
    # Ping Status 12 and Sync Status 7 are not "hierarchy changed"; nor is a nested Status 12 read as the top one
    nested = FlowFacts(command="Sync", http_status=200, statuses=(("Sync/Collections/Collection/Status", 12),))
    for cause in (ping(12), sync("k1", None, 7), plain("Sync", status=7), plain("FolderSync", status=12), nested):
        flows = [ev(1, cause), ev(2, ping(1)), ev(3, ping(1)), ev(4, ping(1))]
        assert only(diagnose(flows), "folder-sync-required-ignored") == [], cause


def test_a_second_status_12_while_waiting_keeps_the_first_cause() -> None:
    flows = [ev(1, ping(7)), ev(2, sync("k1", None, 12)), ev(3, sync("k1", None, 12))]
    assert said(diagnose(flows), "folder-sync-required-ignored") == [
        ("error", (1, 2, 3), "The server answered a Ping with Status 7 (folder hierarchy changed), and the client sent "
                             "2 more requests without a FolderSync.")]


def test_a_foldersync_ends_the_wait_and_a_new_status_starts_another() -> None:
    flows = [ev(1, ping(7)), ev(2, ping(1)), ev(3, plain("FolderSync", status=1)), ev(4, ping(1)),
             ev(5, ping(7)), ev(6, ping(1)), ev(7, ping(1))]
    assert said(diagnose(flows), "folder-sync-required-ignored") == [
        ("error", (5, 6, 7), "The server answered a Ping with Status 7 (folder hierarchy changed), and the client sent "
                             "2 more requests without a FolderSync.")]


# --- more-available-not-followed (MS-ASCMD 2.2.3 MoreAvailable)

MORE_AVAILABLE_ADVICE = (
    "After MoreAvailable the client must Sync again with the new SyncKey until the server stops sending "
    "MoreAvailable; otherwise the folder stays incomplete on the device."
)


def test_more_available_then_ping_in_its_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", more_available=True)), ev(3, ping(1)), ev(4, ping(1))]
    (finding,) = only(diagnose(flows), "more-available-not-followed")
    assert (finding.severity, finding.flows) == ("warning", (2, 3))
    assert finding.summary == ("INBOX (2): the server said more changes were waiting (MoreAvailable, SyncKey k2) and "
                               "the client went on to Ping.")
    assert finding.advice == MORE_AVAILABLE_ADVICE


def test_more_available_never_fetched_in_its_exact_text() -> None:
    flows = [ev(1, sync("k1", "k2", more_available=True)), ev(2, sync("c1", "c2", collection=CALENDAR))]
    assert said(diagnose(flows), "more-available-not-followed") == [
        ("warning", (1,), "collection 2: the server said more changes were waiting (MoreAvailable, SyncKey k2) and the "
                          "client never asked for the rest.")]


def test_more_available_on_the_last_flow_is_not_proven() -> None:
    flows = [ev(1, sync("c1", "c2", collection=CALENDAR)), ev(2, sync("k1", "k2", more_available=True))]
    assert only(diagnose(flows), "more-available-not-followed") == []


def test_more_available_without_a_new_key_asks_for_nothing() -> None:
    flows = [ev(1, sync("k1", None, more_available=True)), ev(2, ping(1))]
    assert only(diagnose(flows), "more-available-not-followed") == []


def test_the_next_sync_of_the_collection_follows_it() -> None:
    # the next Sync of the collection ends the wait, whatever it answers; a MoreAvailable again starts a new one
    flows = [ev(1, sync("k1", "k2", more_available=True)), ev(2, sync("k2", "k3", 3)), ev(3, ping(1)),
             ev(4, sync("k3", "k4", more_available=True)), ev(5, sync("k4", "k5", more_available=True)), ev(6, ping(1))]
    assert [finding.flows for finding in only(diagnose(flows), "more-available-not-followed")] == [(5, 6)]


def test_a_sync_of_two_collections_keeps_each_wait() -> None:
    both = steps(CollectionStep(INBOX, None, "k1", "k2", 1, more_available=True),
                 CollectionStep(CALENDAR, None, "c1", "c2", 1, more_available=True))
    flows = [ev(1, both), ev(2, sync("k2", "k3")), ev(3, ping(1))]
    assert said(diagnose(flows), "more-available-not-followed") == [
        ("warning", (1, 3), "collection 8: the server said more changes were waiting (MoreAvailable, SyncKey c2) and "
                            "the client went on to Ping.")]


def test_live_feed_reports_the_ping_at_once() -> None:
    diagnoser = Diagnoser()
    assert diagnoser.feed(ev(1, sync("k1", "k2", more_available=True))) == []
    (finding,) = diagnoser.feed(ev(2, ping(1)))
    assert (finding.rule, finding.flows) == ("more-available-not-followed", (1, 2))
    assert diagnoser.feed(ev(3, ping(1))) == []  # reported once


# --- window-too-large (MS-ASCMD 2.2.3 WindowSize: default 100, maximum 512)

ABOVE_MAX_ADVICE = "Harmless by itself, but a sign the client ignores the spec's limits."
WINDOW_ADVICE = (
    "Large windows make large responses, which fail more on slow or flaky links and on busy servers: lower "
    "WindowSize (the default is 100)."
)


def windowed(window: int | None, *, status: int | None = None, http: int | None = 200,
             transport_error: str | None = None, collection: str = INBOX) -> FlowFacts:
    return FlowFacts(command="Sync", http_status=http, transport_error=transport_error,
                     collections=(CollectionStep(collection, None, "k1", None, status, window_size=window),))


def test_a_window_above_512_is_info_once_in_its_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, windowed(513, status=1)), ev(3, windowed(600, status=1))]
    (finding,) = only(diagnose(flows), "window-too-large")
    assert (finding.severity, finding.flows) == ("info", (2,))
    assert finding.summary == ("INBOX (2): the client asked for WindowSize 513; the maximum is 512, and the server "
                               "reads anything above it as 512.")
    assert finding.advice == ABOVE_MAX_ADVICE
    assert only(diagnose([ev(1, windowed(512, status=1))]), "window-too-large") == []


def test_large_windows_that_fail_in_their_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, windowed(101, status=5)), ev(3, windowed(101, http=500)),
             ev(4, windowed(101, http=None)), ev(5, windowed(101, transport_error="reset"))]
    (finding,) = only(diagnose(flows), "window-too-large")
    assert (finding.severity, finding.flows) == ("warning", (2, 3, 4, 5))
    assert finding.summary == ("INBOX (2): 4 Syncs with WindowSize 101 failed (no answer, a server error or Status "
                               "5).")
    assert finding.advice == WINDOW_ADVICE


def test_what_is_a_large_window_and_a_failure() -> None:
    # WindowSize 100 (the default) is not large; HTTP 499 and Status 3 are not the failures large windows cause
    for first, second in ((windowed(100, status=5), windowed(100, status=5)),
                          (windowed(200, http=499), windowed(200, http=499)),
                          (windowed(200, status=3), windowed(200, status=3)),
                          (windowed(None, status=5), windowed(None, status=5))):
        assert only(diagnose([ev(1, first), ev(2, second)]), "window-too-large") == [], first


def test_a_success_clears_the_failures_and_another_status_does_not() -> None:
    cleared = [ev(1, windowed(200, status=5)), ev(2, windowed(200, status=1)), ev(3, windowed(200, status=5))]
    assert only(diagnose(cleared), "window-too-large") == []
    kept = [ev(1, windowed(200, status=5)), ev(2, windowed(200, status=3)), ev(3, windowed(200, status=5))]
    assert [finding.flows for finding in only(diagnose(kept), "window-too-large")] == [(1, 3)]
    # a small window's success does not clear the large window's failures
    small = [ev(1, windowed(200, status=5)), ev(2, windowed(50, status=1)), ev(3, windowed(200, status=5))]
    assert [finding.flows for finding in only(diagnose(small), "window-too-large")] == [(1, 3)]


def test_failures_are_counted_per_collection() -> None:
    flows = [ev(1, windowed(200, status=5)), ev(2, windowed(200, status=5, collection=CALENDAR))]
    assert only(diagnose(flows), "window-too-large") == []


# --- duplicate-items (MS-ASCMD 2.2.3 ClientId; 2.2.3 ServerId; 2.2.3 Add (Sync))

DUPLICATE_ADVICE = (
    "A ClientId added again means the client resent an Add it had already synced (duplicate items on the server); a "
    "ServerId added again means the server sends an item the device already has (duplicates on the device). Compare "
    "the two Adds."
)


def test_duplicates_accumulate_in_the_exact_text() -> None:
    flows = [ev(1, folders()), ev(2, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))),
             ev(3, sync("k2", "k3", client_ids_added=("c1",))), ev(4, sync("k3", "k4", server_ids_added=("2:5",)))]
    (finding,) = only(diagnose(flows), "duplicate-items")
    assert (finding.severity, finding.flows) == ("warning", (3, 4))
    assert finding.summary == "INBOX (2): the same item was added twice (ClientId c1, ServerId 2:5)."
    assert finding.advice == DUPLICATE_ADVICE


def test_an_assigned_server_id_is_known() -> None:
    flows = [ev(1, sync("k1", "k2", client_ids_added=("c1",), server_ids_assigned=("2:5",))),
             ev(2, sync("k2", "k3", server_ids_added=("2:5",)))]
    assert said(diagnose(flows), "duplicate-items") == [
        ("warning", (2,), "collection 2: the same item was added twice (ServerId 2:5).")]


def test_a_deleted_item_may_come_back() -> None:
    flows = [ev(1, sync("k1", "k2", server_ids_added=("2:5",))), ev(2, sync("k2", "k3", server_ids_deleted=("2:5",))),
             ev(3, sync("k3", "k4", server_ids_added=("2:5",)))]
    assert only(diagnose(flows), "duplicate-items") == []


def test_a_zero_key_forgets_the_collection() -> None:
    flows = [ev(1, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))), ev(2, sync("0", "a1")),
             ev(3, sync("a1", "a2", client_ids_added=("c1",), server_ids_added=("2:5",)))]
    assert only(diagnose(flows), "duplicate-items") == []


def test_a_resent_request_is_not_a_duplicate_and_a_later_one_is() -> None:
    # the same key sent again gets the same answer; the ClientId under a newer key is a duplicate
    flows = [ev(1, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))),
             ev(2, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))),
             ev(3, sync("k2", "k3", client_ids_added=("c1",)))]
    assert said(diagnose(flows), "duplicate-items") == [
        ("warning", (3,), "collection 2: the same item was added twice (ClientId c1).")]


def test_a_key_is_answered_only_when_the_server_gives_a_new_one() -> None:
    # k1 answered with k1 (or with nothing): a second k1 is not a resend, so its ServerId is a duplicate
    for answer in ("k1", None):
        flows = [ev(1, sync("k1", answer, server_ids_added=("2:5",))),
                 ev(2, sync("k1", "k2", server_ids_added=("2:5",)))]
        assert said(diagnose(flows), "duplicate-items") == [
            ("warning", (2,), "collection 2: the same item was added twice (ServerId 2:5).")], answer


def test_items_are_tracked_per_collection() -> None:
    flows = [ev(1, sync("k1", "k2", client_ids_added=("c1",), server_ids_added=("2:5",))),
             ev(2, sync("c1", "c2", collection=CALENDAR, client_ids_added=("c1",), server_ids_added=("2:5",)))]
    assert only(diagnose(flows), "duplicate-items") == []


def test_a_folder_of_200000_items_stops_tracking_new_ones() -> None:
    full = tuple(f"2:{number}" for number in range(200_000))
    flows = [ev(1, sync("k1", "k2", server_ids_added=full)), ev(2, sync("k2", "k3", server_ids_added=("2:new",))),
             ev(3, sync("k3", "k4", server_ids_added=("2:new",)))]
    assert only(diagnose(flows), "duplicate-items") == []
    almost = full[:-1]
    flows = [ev(1, sync("k1", "k2", server_ids_added=almost)), ev(2, sync("k2", "k3", server_ids_added=("2:new",))),
             ev(3, sync("k3", "k4", server_ids_added=("2:new",)))]
    assert said(diagnose(flows), "duplicate-items") == [
        ("warning", (3,), "collection 2: the same item was added twice (ServerId 2:new).")]


def test_a_collection_named_like_the_above_max_finding_keeps_both_findings() -> None:
    # a CollectionId is any text the server picks (MS-ASCMD 2.2.3 CollectionId); it must not clash with the
    # key of the WindowSize-above-512 finding
    failed = windowed(600, status=5, collection="above-max")
    flows = [ev(1, failed), ev(2, failed)]
    assert said(diagnose(flows), "window-too-large") == [
        ("warning", (1, 2), "collection above-max: 2 Syncs with WindowSize 600 failed (no answer, a server error or "
                            "Status 5)."),
        ("info", (1,), "collection above-max: the client asked for WindowSize 600; the maximum is 512, and the server "
                       "reads anything above it as 512.")]


# --- each collection (and each episode) has its own finding


def test_a_collection_sent_twice_in_one_sync_refused_then_sent_again() -> None:
    # a malformed Sync naming INBOX twice: the second entry repeats the key the first had refused
    twice = steps(CollectionStep(INBOX, None, "k5", None, 3), CollectionStep(INBOX, None, "k5", None, 3))
    assert said(diagnose([ev(1, twice)]), "sync-key-invalid-loop") == [
        ("error", (1,), "collection 2: the server refused SyncKey k5 (Status 3) and the client sent a non-zero "
                        "SyncKey again 1 time instead of starting over at 0.")]


def test_two_collections_churning_are_two_findings() -> None:
    flows = [ev(index, steps(CollectionStep(INBOX, None, sent, "x", 1), CollectionStep(CALENDAR, None, sent, "y", 1)))
             for index, sent in ((1, "k1"), (2, "0"), (3, "0"), (4, "0"))]
    assert said(diagnose(flows), "sync-key-reset-churn") == [
        ("warning", (2, 3, 4), "collection 2 went back to SyncKey 0 3 times after it had synchronized: each time the "
                               "whole folder is downloaded again."),
        ("warning", (2, 3, 4), "collection 8 went back to SyncKey 0 3 times after it had synchronized: each time the "
                               "whole folder is downloaded again.")]


def test_two_ignored_foldersync_requests_are_two_findings() -> None:
    flows = [ev(1, ping(7)), ev(2, ping(1)), ev(3, ping(1)), ev(4, plain("FolderSync", status=1)), ev(5, ping(7)),
             ev(6, ping(1)), ev(7, ping(1))]
    assert [finding.flows for finding in only(diagnose(flows), "folder-sync-required-ignored")] == [
        (1, 2, 3), (5, 6, 7)]


def test_two_collections_left_with_more_available_are_two_findings() -> None:
    both = steps(CollectionStep(INBOX, None, "k1", "k2", 1, more_available=True),
                 CollectionStep(CALENDAR, None, "c1", "c2", 1, more_available=True))
    assert said(diagnose([ev(1, both), ev(2, ping(1))]), "more-available-not-followed") == [
        ("warning", (1, 2), "collection 2: the server said more changes were waiting (MoreAvailable, SyncKey k2) and "
                            "the client went on to Ping."),
        ("warning", (1, 2), "collection 8: the server said more changes were waiting (MoreAvailable, SyncKey c2) and "
                            "the client went on to Ping.")]


def test_each_collection_of_a_sync_has_its_window_read() -> None:
    # a collection without WindowSize, or with a small one, does not hide the next collection's
    def failing(first_window: int | None) -> FlowFacts:
        return steps(CollectionStep(INBOX, None, "k1", None, 5, window_size=first_window),
                     CollectionStep(CALENDAR, None, "c1", None, 5, window_size=600))

    for first_window in (None, 50):
        assert said(diagnose([ev(1, failing(first_window)), ev(2, failing(first_window))]), "window-too-large") == [
            ("warning", (1, 2), "collection 8: 2 Syncs with WindowSize 600 failed (no answer, a server error or Status "
                                "5)."),
            ("info", (1,), "collection 8: the client asked for WindowSize 600; the maximum is 512, and the server "
                           "reads anything above it as 512.")], first_window


def test_two_collections_failing_with_large_windows_are_two_findings() -> None:
    both = steps(CollectionStep(INBOX, None, "k1", None, 5, window_size=200),
                 CollectionStep(CALENDAR, None, "c1", None, 5, window_size=300))
    assert [(finding.flows, finding.summary) for finding in only(diagnose([ev(1, both), ev(2, both)]),
                                                                 "window-too-large")] == [
        ((1, 2), "collection 2: 2 Syncs with WindowSize 200 failed (no answer, a server error or Status 5)."),
        ((1, 2), "collection 8: 2 Syncs with WindowSize 300 failed (no answer, a server error or Status 5).")]


def test_duplicates_in_two_collections_are_two_findings() -> None:
    flows = [ev(1, sync("1", "2", server_ids_added=("a",))), ev(2, sync("1", "2", collection=CALENDAR,
                                                                        server_ids_added=("b",))),
             ev(3, sync("2", "3", server_ids_added=("a",))), ev(4, sync("2", "3", collection=CALENDAR,
                                                                        server_ids_added=("b",)))]
    assert said(diagnose(flows), "duplicate-items") == [
        ("warning", (3,), "collection 2: the same item was added twice (ServerId a)."),
        ("warning", (4,), "collection 8: the same item was added twice (ServerId b).")]


def test_keys_answered_are_remembered_per_collection_and_forgotten_at_a_reset() -> None:
    # counter-like keys ("1", "2" ...) repeat across collections and after a reset; only the same collection's
    # key answered since its last reset makes a resend
    other = [ev(1, sync("1", "2", collection=CALENDAR)), ev(2, sync("1", "2", server_ids_added=("a",))),
             ev(3, sync("1", "2", server_ids_added=("a",)))]
    assert said(diagnose(other), "duplicate-items") == []
    other = [ev(1, sync("1", "2", collection=CALENDAR)), ev(2, sync("0", "1", server_ids_added=("a",))),
             ev(3, sync("1", "2", server_ids_added=("a",)))]
    assert said(diagnose(other), "duplicate-items") == [
        ("warning", (3,), "collection 2: the same item was added twice (ServerId a).")]
    reset = [ev(1, sync("1", "2")), ev(2, sync("0", "1", server_ids_added=("a",))),
             ev(3, sync("1", "2", server_ids_added=("a",)))]
    assert said(diagnose(reset), "duplicate-items") == [
        ("warning", (3,), "collection 2: the same item was added twice (ServerId a).")]
