"""eas.facts: the diagnosis facts taken from real decoded bodies and headers, JSON round trip, folder names, chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eas
from eas.diagnosis import FlowEvidence
from eas.facts import ChainLink, CollectionStep, FlowFacts, FolderChange, folder_names, sync_key_chain

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
URL = "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd={}&User=alice&DeviceId=DEV1&DeviceType=Phone"
WBXML = [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.1")]
INBOX = "mail%2F8e8437014438026bb316000083ecc375"


def _real(number: str, command: str) -> tuple[bytes, bytes]:
    request = REAL / f"{number}-{command}-request.wbxml"
    response = REAL / f"{number}-{command}-response.wbxml"
    return (request.read_bytes() if request.exists() else b"", response.read_bytes() if response.exists() else b"")


def _facts(command: str, request: bytes, response: bytes, *, status: int = 200,
           headers: list[tuple[str, str]] | None = None, method: str = "POST") -> FlowFacts:
    exchange = eas.analyze(method, URL.format(command), WBXML, request, status, WBXML + (headers or []), response)
    assert exchange.facts is not None
    return exchange.facts


def test_foldersync_gives_the_hierarchy_and_its_keys() -> None:
    facts = _facts("FolderSync", *_real("003", "FolderSync"))
    assert facts.command == "FolderSync"
    assert facts.protocol_version == "14.1"
    assert facts.http_status == 200
    assert facts.statuses == (("FolderSync/Status", 1),)
    assert facts.folder_sync_key_request == "0"
    assert facts.folder_sync_key_response == "vm_169f_30b271d9_5e"
    assert len(facts.folder_changes) == 18  # <Count>18</Count> in the response
    assert facts.folder_changes[0] == FolderChange("Add", INBOX, "0", "INBOX", 2)
    assert facts.folder_changes[1] == FolderChange("Add", "mail%2F962624094438026bbd16000083ecc375", "0", "Drafts", 3)


def test_sync_collection_step_from_a_real_mail_sync() -> None:
    facts = _facts("Sync", *_real("006", "Sync"))
    (step,) = facts.collections
    assert step.collection_id == INBOX
    assert step.collection_class == "Email"
    assert (step.request_sync_key, step.response_sync_key, step.status) == ("-1", "3-46", 1)
    assert step.window_size == 25
    assert step.get_changes is True
    assert step.more_available is False
    # capture.log: "inbox: 3=...; 5=...; 4=...; 13=...; 7=..."
    assert step.server_ids_added == ("3", "5", "4", "13", "7")
    assert step.client_ids_added == ()


def test_sync_client_add_and_the_servers_answer() -> None:
    facts = _facts("Sync", *_real("019", "Sync"))
    (step,) = facts.collections
    assert step.collection_id == "vcard%2Fpersonal"
    assert step.client_ids_added == ("c-1",)
    assert step.server_ids_assigned == ("169F-6B024380-81-68D3C98.vcf",)
    assert step.item_statuses == (("Add", "c-1", 1),)
    assert step.request_sync_key == step.response_sync_key == "1795310396"


def test_sync_client_delete_and_server_change_and_delete() -> None:
    item = "169F-6B024380-81-68D3C98.vcf"
    client_delete = _facts("Sync", *_real("024", "Sync")).collections[0]
    assert client_delete.server_ids_changed == (item,)
    assert client_delete.get_changes is False
    server_change = _facts("Sync", *_real("023", "Sync")).collections[0]
    assert server_change.server_ids_updated == (item,)
    server_delete = _facts("Sync", *_real("025", "Sync")).collections[0]
    assert server_delete.server_ids_deleted == (item,)
    assert server_delete.response_sync_key == "1795310433"


def test_sync_more_available_limit_and_item_statuses_from_encoded_xml() -> None:
    request = eas.encode(
        '<Sync xmlns="AirSync"><WindowSize>200</WindowSize><Collections><Collection><SyncKey>7</SyncKey>'
        "<CollectionId>5</CollectionId><Commands><Add><ClientId>n1</ClientId></Add>"
        "<Change><ServerId>5:1</ServerId></Change><Delete><ServerId>5:2</ServerId></Delete>"
        "<Fetch><ServerId>5:3</ServerId></Fetch></Commands></Collection></Collections></Sync>"
    )
    response = eas.encode(
        '<Sync xmlns="AirSync"><Limit>30</Limit><Collections><Collection><SyncKey>8</SyncKey>'
        "<CollectionId>5</CollectionId><Status>1</Status><MoreAvailable/>"
        "<Commands><Add><ServerId>5:9</ServerId></Add><SoftDelete><ServerId>5:4</ServerId></SoftDelete></Commands>"
        "<Responses><Add><ClientId>n1</ClientId><ServerId>5:10</ServerId><Status>1</Status></Add>"
        "<Change><ServerId>5:1</ServerId><Status>7</Status></Change>"
        "<Fetch><ServerId>5:3</ServerId><Status>8</Status></Fetch></Responses></Collection></Collections></Sync>"
    )
    facts = _facts("Sync", request, response)
    assert facts.sync_limit == 30
    assert facts.collections == (
        CollectionStep(
            collection_id="5", request_sync_key="7", response_sync_key="8", status=1, more_available=True,
            window_size=200, client_ids_added=("n1",), server_ids_changed=("5:1", "5:2"), server_ids_added=("5:9",),
            server_ids_assigned=("5:10",), server_ids_deleted=("5:4",),
            item_statuses=(("Add", "n1", 1), ("Change", "5:1", 7), ("Fetch", "5:3", 8)),
        ),
    )


def test_getitemestimate_step() -> None:
    facts = _facts("GetItemEstimate", *_real("007", "GetItemEstimate"))
    assert facts.collections == (
        CollectionStep(collection_id=INBOX, collection_class="Email", request_sync_key="3-46", status=1, estimate=1),
    )


def test_ping_refused_heartbeat_and_its_limit() -> None:
    facts = _facts("Ping", *_real("060", "Ping"))
    assert facts.ping_heartbeat_requested == 3600
    assert facts.ping_heartbeat_limit == 10
    assert facts.statuses == (("Ping/Status", 5),)
    assert [step.collection_id for step in facts.collections] == [INBOX]
    assert facts.collections[0].collection_class == "Email"


def test_ping_changes_found_lists_the_folders() -> None:
    facts = _facts("Ping", *_real("056", "Ping"))
    assert facts.statuses == (("Ping/Status", 2),)
    assert facts.ping_changed_folders == (INBOX,)


def test_provision_phase_one_without_policy() -> None:
    facts = _facts("Provision", *_real("002", "Provision"))
    assert facts.provision_phase == 1
    assert facts.policy_type == "MS-EAS-Provisioning-WBXML"
    assert facts.policy_status == 2  # SOGo: no policy for this client
    assert facts.provision_response_policy_key is None
    assert facts.remote_wipe is False


def test_provision_acknowledgment_and_remote_wipe() -> None:
    request = eas.encode(
        '<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
        "<PolicyKey>1307199584</PolicyKey><Status>1</Status></Policy></Policies></Provision>"
    )
    response = eas.encode(
        '<Provision xmlns="Provision"><Status>1</Status><RemoteWipe/><Policies><Policy>'
        "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><Status>1</Status><PolicyKey>3942919513</PolicyKey>"
        "</Policy></Policies></Provision>"
    )
    facts = _facts("Provision", request, response)
    assert facts.provision_phase == 2
    assert facts.provision_request_policy_key == "1307199584"
    assert facts.policy_ack_status == 1
    assert facts.provision_response_policy_key == "3942919513"
    assert facts.remote_wipe is True


def test_folder_create_and_update_are_folder_changes() -> None:
    create = _facts("FolderCreate", *_real("044", "FolderCreate"))
    assert create.folder_changes == (
        FolderChange("Add", "mail%2F554581346943026b864f000083ecc375", "0", "Lab Projects", 12),
    )
    assert (create.folder_sync_key_request, create.folder_sync_key_response) == (
        "vm_169f_30b271d9_5e", "vm_169f_30b271d9_66")
    update = _facts("FolderUpdate", *_real("045", "FolderUpdate"))
    assert update.folder_changes == (
        FolderChange("Update", "mail%2F554581346943026b864f000083ecc375", "0", "Lab Projects 2"),
    )


def test_response_headers_throttling_redirect_credentials() -> None:
    facts = _facts(
        "Sync", b"", b"", status=503,
        headers=[("Retry-After", "Mon, 07 Dec 2026 10:00:30 GMT"), ("Date", "Mon, 07 Dec 2026 10:00:00 GMT"),
                 ("X-MS-ASThrottle", "CommandFrequency"), ("X-MS-Location", "https://other.example.com/eas"),
                 ("X-MS-Credentials-Expire", "4"), ("X-MS-Credential-Service-Url", "https://pw.example.com"),
                 ("WWW-Authenticate", 'Basic realm="eas"'),
                 ("MS-ASProtocolVersions", "2.5,12.0,12.1,14.0,14.1")],
    )
    assert facts.http_status == 503
    assert facts.retry_after == "Mon, 07 Dec 2026 10:00:30 GMT"
    assert facts.retry_after_seconds == 30
    assert facts.throttle == "CommandFrequency"
    assert facts.redirect_location == "https://other.example.com/eas"
    assert facts.credentials_expire == "4"
    assert facts.credential_service_url == "https://pw.example.com"
    assert facts.auth_scheme == "Basic"
    assert facts.offered_versions == ("2.5", "12.0", "12.1", "14.0", "14.1")
    assert facts.offered_commands == ()  # only the OPTIONS answer names the commands


def test_options_answer_offers_versions_and_commands() -> None:
    headers = [("MS-ASProtocolVersions", "14.0,14.1"), ("MS-ASProtocolCommands", "Sync,FolderSync,Ping")]
    facts = _facts("", b"", b"", headers=headers, method="OPTIONS")
    assert facts.command == "Options"
    assert facts.offered_versions == ("14.0", "14.1")
    assert facts.offered_commands == ("Sync", "FolderSync", "Ping")
    assert facts.retry_after_seconds is None


def test_sizes_and_retry_after_seconds() -> None:
    request, response = _real("006", "Sync")
    facts = _facts("Sync", request, response, headers=[("Retry-After", "120")])
    assert facts.request_size == len(request)
    assert facts.response_size == len(response)
    assert facts.retry_after_seconds == 120


def test_no_response_leaves_response_facts_empty() -> None:
    request, _ = _real("006", "Sync")
    exchange = eas.analyze("POST", URL.format("Sync"), WBXML, request)
    assert exchange.facts is not None
    assert exchange.facts.http_status is None
    assert exchange.facts.response_size is None
    assert exchange.facts.collections[0].request_sync_key == "-1"
    assert exchange.facts.collections[0].response_sync_key is None


def test_json_round_trip_keeps_every_field() -> None:
    facts = FlowFacts(
        command="Sync", protocol_version="16.1", policy_key="123", http_status=200,
        statuses=(("Sync/Collections/Collection/Status", 3),),
        collections=(CollectionStep("2", "Email", "5", "0", 3, True, 50, True, ("c1",), ("s1",), ("s2",), ("s5",),
                                    ("s3",), ("s4",), (("Add", "c1", 6),), 9),),
        sync_limit=4, folder_sync_key_request="0", folder_sync_key_response="k1",
        folder_changes=(FolderChange("Add", "2", "0", "INBOX", 2), FolderChange("Delete", "9")),
        ping_heartbeat_requested=900, ping_heartbeat_limit=480, ping_changed_folders=("2",), ping_max_folders=5,
        provision_phase=2, policy_type="MS-EAS-Provisioning-WBXML", provision_request_policy_key="1",
        provision_response_policy_key="2", policy_status=1, policy_ack_status=1, remote_wipe=True,
        remote_wipe_ack_status=1, retry_after="30", retry_after_seconds=30, throttle="t", redirect_location="u",
        credentials_expire="3", credential_service_url="c", auth_scheme="Basic", offered_versions=("14.1",),
        offered_commands=("Sync",), request_size=10, response_size=20, transport_error="reset",
    )
    data = json.loads(json.dumps(facts.to_json()))
    assert data["v"] == 1
    assert FlowFacts.from_json(data) == facts


def test_json_is_compact_and_tolerant() -> None:
    assert FlowFacts(command="Ping", http_status=200).to_json() == {"v": 1, "command": "Ping", "http_status": 200}
    later = FlowFacts.from_json({"v": 2, "command": "Sync", "new_field": [1]})
    assert later.command == "Sync"
    assert later.extra == {"new_field": [1]}
    with pytest.raises(ValueError, match="statuses"):
        FlowFacts.from_json({"statuses": [["a"]]})
    with pytest.raises(ValueError, match="JSON object"):
        FlowFacts.from_json([])  # type: ignore[arg-type]


def test_folder_names_apply_changes_in_order() -> None:
    first = FlowFacts(command="FolderSync", folder_sync_key_request="0", folder_changes=(
        FolderChange("Add", "2", "0", "INBOX", 2), FolderChange("Add", "8", "0", "Calendar", 8),
        FolderChange("Add", "20", "2", "Old", 12)))
    later = FlowFacts(command="FolderSync", folder_sync_key_request="k1", folder_changes=(
        FolderChange("Update", "20", "2", "Projects"), FolderChange("Delete", "8")))
    created = FlowFacts(command="FolderCreate", folder_changes=(FolderChange("Add", "30", "0", "Lab", 12),))
    assert folder_names([first, later, created]) == {"2": "INBOX", "20": "Projects", "30": "Lab"}
    restart = FlowFacts(command="FolderSync", folder_sync_key_request="0",
                        folder_changes=(FolderChange("Add", "2", "0", "Inbox", 2),))
    assert folder_names([first, later, restart]) == {"2": "Inbox"}


def test_sync_key_chain_in_time_order() -> None:
    def evidence(flow_id: int, ts: float, facts: FlowFacts) -> FlowEvidence:
        return FlowEvidence(flow_id, ts, "alice", "DEV1", "Phone", "mail.example.com", facts)

    def sync(collection_id: str, sent: str, answered: str | None, status: int | None) -> FlowFacts:
        return FlowFacts(command="Sync", http_status=200,
                         collections=(CollectionStep(collection_id, None, sent, answered, status),))

    flows = [
        evidence(3, 30.0, sync("2", "k1", None, 3)),
        evidence(1, 10.0, sync("2", "0", "k1", 1)),
        evidence(2, 20.0, sync("9", "0", "x1", 1)),
        evidence(4, 40.0, FlowFacts(command="Ping", collections=(CollectionStep("2"),))),
    ]
    assert sync_key_chain(flows, "2") == [
        ChainLink(1, 10.0, "Sync", "0", "k1", 1, 200),
        ChainLink(3, 30.0, "Sync", "k1", None, 3, 200),
    ]


def test_exchange_carries_facts_for_every_lab_flow() -> None:
    from mitmproxy import io

    with (REAL / "lab-session.mitm").open("rb") as fh:
        flows = list(io.FlowReader(fh).stream())
    for flow in flows:
        request, response = flow.request, flow.response  # type: ignore[attr-defined]
        exchange = eas.analyze(
            request.method, request.url, list(request.headers.items(multi=True)), request.raw_content or b"",
            response.status_code, list(response.headers.items(multi=True)), response.raw_content or b"",
            annotate=True, plain_xml=False,
        )
        assert exchange.facts is not None, request.url
        assert exchange.facts.command == exchange.command
        assert exchange.facts.statuses == tuple((note.path, note.code) for note in exchange.eas_statuses)
