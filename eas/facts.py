"""The compact facts a session diagnosis needs from one exchange, taken once from its decoded bodies and headers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar

# ----------------------------------------------------------------------------------------------------------------
# Theory of operation: `extract_facts` reads the request and response trees the analysis has already decoded
# (eas.exchange.analyze) and keeps only what a diagnosis rule reads: sync keys, statuses, item ids, folder
# changes, the Ping and Provision values and a few headers. A capture stores `FlowFacts.to_json()` beside the flow,
# so a diagnosis over many stored flows reads these small values and never decodes a body again.
#
# The trees carry namespaces (AirSync, FolderHierarchy, Ping, Provision ...); the facts go by local names and the
# element structure of MS-ASCMD 2.2.3 (Collection under Collections under Sync; Add under Commands or Responses),
# so an element in an unexpected namespace still counts.

FACTS_VERSION = 1  # the "v" of FlowFacts.to_json; bump when a field changes meaning


@dataclass(frozen=True)
class CollectionStep:
    """One collection in a Sync, GetItemEstimate or Ping: what the client sent and what the server answered.

    Attributes:
        collection_id: the CollectionId (Ping: the Folder Id).
        collection_class: Class (Email, Calendar, Contacts, Tasks, Notes, SMS), when the body names it.
        request_sync_key / response_sync_key: the SyncKey sent and the one the server answered (MS-ASCMD 2.2.3
            SyncKey (Sync)); "0" in a request asks for a full synchronization.
        status: the collection's Status (Sync: MS-ASCMD 2.2.3.177.17; GetItemEstimate: 2.2.3.177.7).
        more_available: the response carries MoreAvailable: the server holds more changes (MS-ASCMD 2.2.3
            MoreAvailable).
        window_size: the WindowSize asked for this collection (or the Sync-level one).
        get_changes: the request's GetChanges (None when absent).
        client_ids_added: ClientIds of the request's Commands/Add (items the client creates).
        server_ids_changed: ServerIds of the request's Commands/Change and Commands/Delete.
        server_ids_added: ServerIds of the response's Commands/Add (items the server sends as new).
        server_ids_updated: ServerIds of the response's Commands/Change (items the server sends as changed).
        server_ids_assigned: ServerIds the response's Responses/Add gives to the client's new items.
        server_ids_deleted: ServerIds of the response's Commands/Delete and SoftDelete.
        item_statuses: (operation, id, Status) of each Responses/Add (ClientId), Change and Fetch (ServerId).
        estimate: GetItemEstimate's Estimate.
    """

    collection_id: str
    collection_class: str | None = None
    request_sync_key: str | None = None
    response_sync_key: str | None = None
    status: int | None = None
    more_available: bool = False
    window_size: int | None = None
    get_changes: bool | None = None
    client_ids_added: tuple[str, ...] = ()
    server_ids_changed: tuple[str, ...] = ()
    server_ids_added: tuple[str, ...] = ()
    server_ids_updated: tuple[str, ...] = ()
    server_ids_assigned: tuple[str, ...] = ()
    server_ids_deleted: tuple[str, ...] = ()
    item_statuses: tuple[tuple[str, str, int], ...] = ()
    estimate: int | None = None


# The kinds of folder change (MS-ASCMD 2.2.3 Add/Update/Delete (FolderSync)); FolderCreate, FolderUpdate and
# FolderDelete that succeed give the same changes.
FOLDER_CHANGE_KINDS = ("Add", "Update", "Delete")


@dataclass(frozen=True, slots=True)
class FolderChange:
    """One change of the folder hierarchy: a FolderSync Changes entry, or a FolderCreate/Update/Delete that worked.

    Attributes:
        kind: "Add", "Update" or "Delete".
        server_id: the folder's ServerId (the CollectionId Sync uses).
        parent_id: ParentId ("0" is the root), when given.
        display_name: DisplayName, when given.
        folder_type: Type (MS-ASCMD 2.2.3 Type (FolderSync): 2 Inbox, 8 Calendar, 9 Contacts ...), when given.
    """

    kind: str
    server_id: str
    parent_id: str | None = None
    display_name: str | None = None
    folder_type: int | None = None


@dataclass(frozen=True)
class FlowFacts:
    """What one exchange tells a diagnosis; small, JSON-friendly (`to_json` / `from_json`).

    Attributes:
        command: the command (Sync, FolderSync, Ping, Options ...), None when unknown.
        protocol_version: MS-ASProtocolVersion of the request.
        policy_key: X-MS-PolicyKey of the request (or the base64 query's PolicyKey).
        http_status: the response's HTTP status; None without a response.
        statuses: every command Status of the response, (element path, code), top level first.
        collections: the collections of a Sync, GetItemEstimate or Ping.
        sync_limit: Sync response Limit (the allowed Wait/HeartbeatInterval or collection count, with Status 14/15).
        folder_sync_key_request / folder_sync_key_response: the hierarchy SyncKey of FolderSync (and FolderCreate,
            FolderUpdate, FolderDelete) sent and answered.
        folder_changes: hierarchy changes the server confirmed, in order.
        ping_heartbeat_requested: the HeartbeatInterval the Ping asked for (seconds).
        ping_heartbeat_limit: the HeartbeatInterval the server answered (with Status 5: the allowed min or max).
        ping_changed_folders: the Folder ids a Ping Status 2 lists.
        ping_max_folders: MaxFolders of a Ping Status 6.
        provision_phase: 1 (the device asks for the policy) or 2 (the device acknowledges it), MS-ASPROV 3.1.5.1.
        policy_type: PolicyType asked.
        provision_request_policy_key: the PolicyKey inside the Provision request (phase 2 acknowledges it).
        provision_response_policy_key: the PolicyKey the server answered (temporary in phase 1, final in phase 2).
        policy_status: Policy Status of the response (MS-ASPROV 2.2.2.54.1).
        policy_ack_status: Policy Status the device sent in phase 2 (1 applied, 2 partly, 3 not applied).
        remote_wipe: the server's response asks the device to wipe itself (MS-ASPROV 2.2.2.53).
        remote_wipe_ack_status: the device's RemoteWipe Status (1 wiped, 2 failed).
        retry_after: the Retry-After header as sent.
        retry_after_seconds: Retry-After in seconds (an HTTP-date counts from the response's Date header).
        throttle: X-MS-ASThrottle (and X-MS-ASThrottleReason) as sent.
        redirect_location: X-MS-Location (with 451).
        credentials_expire: X-MS-Credentials-Expire (days until the password expires).
        credential_service_url: X-MS-Credential-Service-Url.
        auth_scheme: the scheme of the response's WWW-Authenticate (Basic, Bearer, Negotiate ...).
        offered_versions: MS-ASProtocolVersions of the response (the OPTIONS answer; many servers repeat it).
        offered_commands: MS-ASProtocolCommands of an OPTIONS answer.
        request_size / response_size: body sizes in bytes (after Content-Encoding is removed); None when unknown.
        transport_error: why no (complete) response came (reset, timeout ...); the capture sets it, analyze has no
            way to know it.
    """

    command: str | None = None
    protocol_version: str | None = None
    policy_key: str | None = None
    http_status: int | None = None
    statuses: tuple[tuple[str, int], ...] = ()
    collections: tuple[CollectionStep, ...] = ()
    sync_limit: int | None = None
    folder_sync_key_request: str | None = None
    folder_sync_key_response: str | None = None
    folder_changes: tuple[FolderChange, ...] = ()
    ping_heartbeat_requested: int | None = None
    ping_heartbeat_limit: int | None = None
    ping_changed_folders: tuple[str, ...] = ()
    ping_max_folders: int | None = None
    provision_phase: int | None = None
    policy_type: str | None = None
    provision_request_policy_key: str | None = None
    provision_response_policy_key: str | None = None
    policy_status: int | None = None
    policy_ack_status: int | None = None
    remote_wipe: bool = False
    remote_wipe_ack_status: int | None = None
    retry_after: str | None = None
    retry_after_seconds: int | None = None
    throttle: str | None = None
    redirect_location: str | None = None
    credentials_expire: str | None = None
    credential_service_url: str | None = None
    auth_scheme: str | None = None
    offered_versions: tuple[str, ...] = ()
    offered_commands: tuple[str, ...] = ()
    request_size: int | None = None
    response_size: int | None = None
    transport_error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Every Status code of the response as a set: the rules ask "is code X there" many times per flow.
    status_set: frozenset[int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status_set", frozenset(code for _, code in self.statuses))

    def status_codes(self) -> tuple[int, ...]:
        """Every Status code of the response, top level first."""
        return tuple(code for _, code in self.statuses)

    def collection(self, collection_id: str) -> CollectionStep | None:
        """The step of one collection, or None."""
        for step in self.collections:
            if step.collection_id == collection_id:
                return step
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: only the fields that are set, plus "v" (FACTS_VERSION)."""
        data: dict[str, Any] = {"v": FACTS_VERSION}
        for name in _FACT_FIELDS:
            value = getattr(self, name)
            if value == _FACT_DEFAULTS[name]:
                continue
            if name == "statuses":
                data[name] = [[path, code] for path, code in value]
            elif name == "collections":
                data[name] = [_step_json(step) for step in value]
            elif name == "folder_changes":
                data[name] = [_change_json(change) for change in value]
            elif isinstance(value, tuple):
                data[name] = list(value)
            else:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowFacts:
        """The facts `to_json` wrote; fields it does not know are kept in `extra`, missing ones take defaults.

        Raises:
            ValueError: `data` is not a mapping, or a field has the wrong shape.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"flow facts must be a JSON object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        name = ""
        try:
            for name, value in data.items():
                if name in _FACT_FIELD_SET:
                    convert = _FACT_CONVERTERS.get(name)
                    values[name] = value if convert is None else convert(value)
                elif name != "v":
                    extra[name] = value
            facts = _restored(cls, values)
            object.__setattr__(facts, "extra", extra)
            object.__setattr__(facts, "status_set", frozenset(code for _, code in facts.statuses))
            return facts
        except (TypeError, ValueError) as err:
            raise ValueError(f"flow facts field {name!r} is malformed: {err}") from err


_FACT_FIELDS = tuple(f.name for f in fields(FlowFacts) if f.init and f.name != "extra")
_FACT_FIELD_SET = frozenset(_FACT_FIELDS)
# A field at its default is left out of the JSON (and comes back as the default): compare with the default
# itself, since False and None differ (GetChanges 0 is not an absent GetChanges).
_FACT_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(FlowFacts) if f.name in _FACT_FIELD_SET}
_STEP_FIELDS = tuple(f.name for f in fields(CollectionStep))
_STEP_FIELD_SET = frozenset(_STEP_FIELDS)
_STEP_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(CollectionStep)}
_CHANGE_FIELDS = tuple(f.name for f in fields(FolderChange))
_STEP_ID_TUPLES = frozenset(
    {"client_ids_added", "server_ids_changed", "server_ids_added", "server_ids_updated", "server_ids_assigned",
     "server_ids_deleted"}
)


def _step_json(step: CollectionStep) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in _STEP_FIELDS:
        value = getattr(step, name)
        if value == _STEP_DEFAULTS[name]:
            continue
        if name == "item_statuses":
            data[name] = [list(entry) for entry in value]
        else:
            data[name] = list(value) if isinstance(value, tuple) else value
    return data


def _step_from_json(data: Mapping[str, Any]) -> CollectionStep:
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in _STEP_ID_TUPLES:
            values[name] = tuple(value)
        elif name == "item_statuses":
            values[name] = tuple((str(op), str(item), int(code)) for op, item, code in value)
        elif name in _STEP_FIELD_SET:
            values[name] = value
    return _restored(CollectionStep, values)


_Restored = TypeVar("_Restored")


def _restored(cls: type[_Restored], values: dict[str, Any]) -> _Restored:
    """An instance holding `values`, its other fields at their class defaults, without running __init__.

    A stored flow sets few of its many fields; the generated __init__ of a frozen dataclass assigns every field
    one by one, which made reading 100,000 stored facts take seconds. FlowFacts and CollectionStep keep no slots
    for this: their defaults stay class attributes, so an unset field reads its default.
    """
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError("a list was expected")
    return tuple(value)


# How each stored field becomes a value again (the others are JSON scalars as they are).
_FACT_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "statuses": lambda value: tuple((str(path), int(code)) for path, code in value),
    "collections": lambda value: tuple(_step_from_json(step) for step in value),
    "folder_changes": lambda value: tuple(FolderChange(**change) for change in value),
    "ping_changed_folders": _strings,
    "offered_versions": _strings,
    "offered_commands": _strings,
}


def _change_json(change: FolderChange) -> dict[str, Any]:
    return {name: value for name in _CHANGE_FIELDS if (value := getattr(change, name)) is not None}


# ----------------------------------------------------------------------------------------------------------------
# Extraction from the decoded trees.


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


# lxml matches children by "{*}local name" in C (iterchildren), faster than find() or testing tags in Python.


def _children(element: Any, name: str) -> list[Any]:
    return list(element.iterchildren("{*}" + name))


def _child(element: Any, name: str) -> Any:
    return next(element.iterchildren("{*}" + name), None)


def _text(element: Any, name: str) -> str | None:
    child = next(element.iterchildren("{*}" + name), None)
    if child is None or not child.text:
        return None
    return str(child.text).strip() or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _ids(elements: Iterable[Any], name: str) -> tuple[str, ...]:
    return tuple(value for element in elements if (value := _text(element, name)) is not None)


def _command_items(collection: Any, container: str, operations: Sequence[str]) -> list[Any]:
    found: list[Any] = []
    for holder in _children(collection, container):
        for child in holder:
            if _local(child) in operations:
                found.append(child)
    return found


class _SyncCollection(NamedTuple):
    collection_id: str | None
    element: Any


def _sync_collections(root: Any) -> list[_SyncCollection]:
    collections = _child(root, "Collections")
    if collections is None:
        return []
    return [_SyncCollection(_text(element, "CollectionId"), element) for element in _children(collections, "Collection")]


def _sync_steps(request_root: Any, response_root: Any) -> tuple[list[CollectionStep], int | None]:
    """Sync (MS-ASCMD 2.2.1.21 in 16.x): request and response collections paired by CollectionId."""
    order: list[str] = []
    request_by_id: dict[str, Any] = {}
    sync_window: int | None = None
    if request_root is not None:
        sync_window = _int(_text(request_root, "WindowSize"))
        for collection_id, element in _sync_collections(request_root):
            key = collection_id or ""
            order.append(key)
            request_by_id[key] = element
    response_by_id: dict[str, Any] = {}
    limit = None
    if response_root is not None:
        limit = _int(_text(response_root, "Limit"))
        responses = _sync_collections(response_root)
        for collection_id, element in responses:
            # A response collection without CollectionId answers the only collection asked.
            key = collection_id or (order[0] if len(order) == 1 else "")
            if key not in request_by_id and key not in response_by_id:
                order.append(key)
            response_by_id[key] = element
    steps = []
    for key in order:
        request = request_by_id.get(key)
        response = response_by_id.get(key)
        if not key and request is None and response is None:
            continue
        steps.append(_sync_step(key, request, response, sync_window))
    return steps, limit


def _sync_step(collection_id: str, request: Any, response: Any, sync_window: int | None) -> CollectionStep:
    collection_class = None
    request_key = window = None
    get_changes: bool | None = None
    client_ids: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    if request is not None:
        collection_class = _text(request, "Class")
        request_key = _text(request, "SyncKey")
        window = _int(_text(request, "WindowSize"))
        changes_element = _child(request, "GetChanges")
        if changes_element is not None:
            get_changes = (changes_element.text or "1").strip() != "0"
        client_ids = _ids(_command_items(request, "Commands", ("Add",)), "ClientId")
        changed = _ids(_command_items(request, "Commands", ("Change", "Delete")), "ServerId")
    response_key = status = None
    more = False
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    item_statuses: list[tuple[str, str, int]] = []
    if response is not None:
        collection_class = collection_class or _text(response, "Class")
        response_key = _text(response, "SyncKey")
        status = _int(_text(response, "Status"))
        more = _child(response, "MoreAvailable") is not None
        added = _ids(_command_items(response, "Commands", ("Add",)), "ServerId")
        updated = _ids(_command_items(response, "Commands", ("Change",)), "ServerId")
        deleted = _ids(_command_items(response, "Commands", ("Delete", "SoftDelete")), "ServerId")
        answers = _command_items(response, "Responses", ("Add", "Change", "Fetch"))
        assigned = _ids((answer for answer in answers if _local(answer) == "Add"), "ServerId")
        for answer in answers:
            code = _int(_text(answer, "Status"))
            operation = _local(answer)
            item = _text(answer, "ClientId" if operation == "Add" else "ServerId")
            if code is not None:
                item_statuses.append((operation, item or "", code))
    return CollectionStep(
        collection_id=collection_id,
        collection_class=collection_class,
        request_sync_key=request_key,
        response_sync_key=response_key,
        status=status,
        more_available=more,
        window_size=window if window is not None else sync_window,
        get_changes=get_changes,
        client_ids_added=client_ids,
        server_ids_changed=changed,
        server_ids_added=added,
        server_ids_updated=updated,
        server_ids_assigned=assigned,
        server_ids_deleted=deleted,
        item_statuses=tuple(item_statuses),
    )


def _estimate_steps(request_root: Any, response_root: Any) -> list[CollectionStep]:
    """GetItemEstimate: request Collections/Collection, response Response/Collection with the Response's Status."""
    steps: dict[str, dict[str, Any]] = {}
    if request_root is not None:
        for collection_id, element in _sync_collections(request_root):
            steps[collection_id or ""] = {
                "collection_class": _text(element, "Class"),
                "request_sync_key": _text(element, "SyncKey"),
            }
    if response_root is not None:
        for answer in _children(response_root, "Response"):
            collection = _child(answer, "Collection")
            collection_id = _text(collection, "CollectionId") if collection is not None else None
            key = collection_id or (next(iter(steps)) if len(steps) == 1 else "")
            step = steps.setdefault(key, {})
            step["status"] = _int(_text(answer, "Status"))
            if collection is not None:
                step["estimate"] = _int(_text(collection, "Estimate"))
                step["collection_class"] = step.get("collection_class") or _text(collection, "Class")
    return [CollectionStep(collection_id=key, **values) for key, values in steps.items() if key]


def _ping_facts(request_root: Any, response_root: Any, values: dict[str, Any]) -> None:
    """Ping (MS-ASCMD 2.2.1.13 in 16.x): heartbeat asked and answered, folders watched and changed."""
    steps = []
    if request_root is not None:
        values["ping_heartbeat_requested"] = _int(_text(request_root, "HeartbeatInterval"))
        folders = _child(request_root, "Folders")
        for folder in _children(folders, "Folder") if folders is not None else []:
            folder_id = _text(folder, "Id")
            if folder_id:
                steps.append(CollectionStep(collection_id=folder_id, collection_class=_text(folder, "Class")))
    values["collections"] = tuple(steps)
    if response_root is not None:
        values["ping_heartbeat_limit"] = _int(_text(response_root, "HeartbeatInterval"))
        values["ping_max_folders"] = _int(_text(response_root, "MaxFolders"))
        folders = _child(response_root, "Folders")
        if folders is not None:
            values["ping_changed_folders"] = tuple(
                text for folder in _children(folders, "Folder") if (text := (folder.text or "").strip())
            )


def _folder_change(kind: str, element: Any, server_id: str | None = None) -> FolderChange | None:
    server_id = server_id or _text(element, "ServerId")
    if not server_id:
        return None
    return FolderChange(
        kind=kind,
        server_id=server_id,
        parent_id=_text(element, "ParentId"),
        display_name=_text(element, "DisplayName"),
        folder_type=_int(_text(element, "Type")),
    )


# FolderCreate, FolderUpdate and FolderDelete answer Status 1 on success (MS-ASCMD 2.2.3.177.3, .6, .4).
_FOLDER_COMMAND_KINDS = {"FolderCreate": "Add", "FolderUpdate": "Update", "FolderDelete": "Delete"}


def _folder_facts(command: str, request_root: Any, response_root: Any, values: dict[str, Any]) -> None:
    """FolderSync's Changes; a FolderCreate/Update/Delete that succeeded as the change it makes."""
    if request_root is not None:
        values["folder_sync_key_request"] = _text(request_root, "SyncKey")
    if response_root is None:
        return
    values["folder_sync_key_response"] = _text(response_root, "SyncKey")
    changes: list[FolderChange] = []
    if command == "FolderSync":
        holder = _child(response_root, "Changes")
        for element in holder if holder is not None else []:
            kind = _local(element)
            if kind in FOLDER_CHANGE_KINDS and (change := _folder_change(kind, element)) is not None:
                changes.append(change)
    elif _int(_text(response_root, "Status")) == 1 and request_root is not None:
        kind = _FOLDER_COMMAND_KINDS[command]
        server_id = _text(response_root, "ServerId") if kind == "Add" else None
        if (change := _folder_change(kind, request_root, server_id)) is not None:
            changes.append(change)
    values["folder_changes"] = tuple(changes)


def _provision_facts(request_root: Any, response_root: Any, values: dict[str, Any]) -> None:
    """Provision (MS-ASPROV 3.1.5.1): phase 1 asks for the policy, phase 2 acknowledges it with its PolicyKey."""
    if request_root is not None:
        policy = _first_policy(request_root)
        if policy is not None:
            values["policy_type"] = _text(policy, "PolicyType")
            values["provision_request_policy_key"] = _text(policy, "PolicyKey")
            values["policy_ack_status"] = _int(_text(policy, "Status"))
        wipe = _child(request_root, "RemoteWipe")
        if wipe is not None:
            values["remote_wipe_ack_status"] = _int(_text(wipe, "Status"))
        acknowledged = values.get("provision_request_policy_key") or wipe is not None
        values["provision_phase"] = 2 if acknowledged else 1
    if response_root is not None:
        policy = _first_policy(response_root)
        if policy is not None:
            values["policy_status"] = _int(_text(policy, "Status"))
            values["provision_response_policy_key"] = _text(policy, "PolicyKey")
            values["policy_type"] = values.get("policy_type") or _text(policy, "PolicyType")
        values["remote_wipe"] = _child(response_root, "RemoteWipe") is not None


def _first_policy(root: Any) -> Any:
    policies = _child(root, "Policies")
    return _child(policies, "Policy") if policies is not None else None


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` (lower case) that was sent, stripped."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value.strip()
    return None


def _by_name(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Header name (lower case) -> the first value sent under it."""
    named: dict[str, str] = {}
    for name, value in headers:
        named.setdefault(name.lower(), value)
    return named


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip()) if value else ()


def _retry_seconds(retry_after: str | None, date: str | None) -> int | None:
    """Retry-After as seconds: delta-seconds, or an HTTP-date counted from the response's Date (RFC 9110 10.2.3)."""
    if retry_after is None:
        return None
    if retry_after.isdigit():
        return int(retry_after)
    if date is None:
        return None
    try:
        seconds = (parsedate_to_datetime(retry_after) - parsedate_to_datetime(date)).total_seconds()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0, int(seconds))


def extract_facts(
    *,
    command: str | None,
    method: str,
    protocol_version: str | None,
    policy_key: str | None,
    http_status: int | None,
    statuses: Iterable[tuple[str, int]],
    request_headers: Sequence[tuple[str, str]],
    response_headers: Sequence[tuple[str, str]],
    request_root: Any,
    response_root: Any,
    request_size: int | None,
    response_size: int | None,
) -> FlowFacts:
    """The facts of one exchange from its decoded request and response trees (either may be None) and headers.

    Raises nothing on odd trees: a missing element is a missing fact.
    """
    values: dict[str, Any] = {}
    if command == "Sync":
        steps, limit = _sync_steps(request_root, response_root)
        values["collections"] = tuple(steps)
        values["sync_limit"] = limit
    elif command == "GetItemEstimate":
        values["collections"] = tuple(_estimate_steps(request_root, response_root))
    elif command == "Ping":
        _ping_facts(request_root, response_root, values)
    elif command == "FolderSync" or command in _FOLDER_COMMAND_KINDS:
        _folder_facts(command, request_root, response_root, values)
    elif command == "Provision":
        _provision_facts(request_root, response_root, values)

    response_named = _by_name(response_headers)
    retry_after = _header(response_named, "retry-after")
    throttle = "; ".join(
        value for value in (_header(response_named, "x-ms-asthrottle"),
                            _header(response_named, "x-ms-asthrottlereason")) if value
    )
    authenticate = _header(response_named, "www-authenticate")
    return FlowFacts(
        command=command,
        protocol_version=protocol_version,
        policy_key=policy_key,
        http_status=http_status,
        statuses=tuple(statuses),
        retry_after=retry_after,
        retry_after_seconds=_retry_seconds(retry_after, _header(response_named, "date")),
        throttle=throttle or None,
        redirect_location=_header(response_named, "x-ms-location"),
        # MS-ASHTTP 2.2.2.1.2 spells them with hyphens; some servers drop them.
        credentials_expire=_header(response_named, "x-ms-credentials-expire", "x-ms-credentialsexpire"),
        credential_service_url=_header(response_named, "x-ms-credential-service-url", "x-ms-credentialserviceurl"),
        auth_scheme=authenticate.split(None, 1)[0] if authenticate else None,
        offered_versions=_split(_header(response_named, "ms-asprotocolversions")),
        offered_commands=_split(_header(response_named, "ms-asprotocolcommands")) if method == "OPTIONS" else (),
        request_size=request_size,
        response_size=response_size,
        **{name: value for name, value in values.items() if value is not None},
    )


# ----------------------------------------------------------------------------------------------------------------
# Views over a session's facts for the viewer and the CLI.


def apply_folder_changes(names: dict[str, str], facts: FlowFacts) -> None:
    """Apply one flow's folder changes to a collection id -> display name map, in place.

    A FolderSync with SyncKey 0 starts the hierarchy again (MS-ASCMD 2.2.3 SyncKey (FolderSync)), so names from
    before it are dropped; Add and Update set a name, Delete removes it.
    """
    if not facts.folder_changes:
        return
    if facts.command == "FolderSync" and facts.folder_sync_key_request == "0":
        names.clear()
    for change in facts.folder_changes:
        if change.kind == "Delete":
            names.pop(change.server_id, None)
        elif change.display_name:
            names[change.server_id] = change.display_name


def folder_names(facts_sequence: Iterable[FlowFacts]) -> dict[str, str]:
    """Collection id -> display name, from the session's FolderSyncs (and folder commands), facts in time order."""
    names: dict[str, str] = {}
    for facts in facts_sequence:
        apply_folder_changes(names, facts)
    return names


class ChainLink(NamedTuple):
    """One step of a collection's SyncKey chain: the flow, its time, the key sent, the key answered, the Status."""

    flow_id: int
    ts: float
    command: str | None
    request_sync_key: str | None
    response_sync_key: str | None
    status: int | None
    http_status: int | None


def sync_key_chain(evidence: Iterable[Any], collection_id: str) -> list[ChainLink]:
    """The SyncKey chain of one collection, in time order.

    Args:
        evidence: objects with `flow_id`, `ts` and `facts` (eas.diagnosis.FlowEvidence), any order.
        collection_id: the CollectionId.
    Returns:
        One link per Sync or GetItemEstimate that names the collection.
    """
    links = []
    for item in evidence:
        facts: FlowFacts = item.facts
        if facts.command not in ("Sync", "GetItemEstimate"):
            continue
        step = facts.collection(collection_id)
        if step is None:
            continue
        links.append(ChainLink(item.flow_id, item.ts, facts.command, step.request_sync_key,
                               step.response_sync_key, step.status, facts.http_status))
    links.sort(key=lambda link: (link.ts, link.flow_id))
    return links
