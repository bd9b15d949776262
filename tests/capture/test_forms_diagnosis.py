"""Issue 16's proof: one recorded session, as `.mitm` and written in each other form, gives the same diagnosis,
except what the form cannot carry.

Two recordings go through every form: the lab session (tests/data/real/lab-session.mitm, SOGo through mitmdump)
and a session full of faults, recorded here through a real mitmdump (`-w`, no addon) in front of the scripted EAS
server (tests/addon/scripted_eas.py). Each is written as HAR (mitmproxy's exporter), a Fiddler .saz, an Exchange
mailbox log (content hidden as Exchange hides it) and a z-push debug log (tests/capture/forms.py), imported with
`eas-inspector import`, and diagnosed with `eas-inspector diagnose --json`. The findings (rule, severity, device
session, and the flows they rest on, by their place in the capture) must equal those of the `.mitm`, except the
rules the importer reports as not checkable; which rules those are, per form, is written below by hand with the
reason, and the test checks that the import reports exactly those.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from mitmproxy import http

from capture.reader import CaptureReader
from tests.addon import scripted_eas
from tests.addon.conftest import start_mitmdump
from tests.capture import forms
from tests.capture.conftest import LAB_DEVICES, cli

pytestmark = pytest.mark.slow

LAB_A, LAB_B, LAB_BOB = "EA5100000000000000000000000000A1", "EA5100000000000000000000000000B2", "PYAS0003C"
FAULT_DEVICES = frozenset(scenario.device_id for scenario in scripted_eas.scenarios())
ZPUSH_HOST = "eas-server.invalid"  # a z-push log never names the server it ran on
# What Exchange hides in a mailbox log unless verbose logging is on: subjects, body data, MIME.
MAILBOX_LOG_HIDDEN = frozenset({"Subject", "Data", "Mime"})

# The rules that read headers (eas.rules.RULES: `needs` holds request or response headers) and what they read.
HEADER_RULES = frozenset({"provisioning-loop", "redirect-loop", "throttled", "retry-too-early", "version-not-offered"})


@dataclass(frozen=True)
class NotCheckable:
    """Rules a form cannot let the diagnosis check, in some device sessions (None: every one), and why."""

    rules: frozenset[str]
    devices: frozenset[str] | None
    reason: str


ZPUSH_NO_HEADERS = NotCheckable(
    HEADER_RULES, None,
    "a z-push log shows no HTTP headers: no X-MS-PolicyKey (provisioning-loop), X-MS-Location (redirect-loop), "
    "Retry-After or X-MS-ASThrottle (throttled, retry-too-early), MS-ASProtocolVersions (version-not-offered)",
)

# Per form and recording: what the form cannot carry. HAR and .saz carry every byte and header.
NOT_CHECKABLE: dict[tuple[str, str], tuple[NotCheckable, ...]] = {
    ("har", "lab"): (),
    ("har", "faults"): (),
    ("saz", "lab"): (),
    ("saz", "faults"): (),
    ("mailbox-log", "lab"): (
        NotCheckable(
            frozenset({"provisioning-loop", "auth-failures", "request-too-large", "server-errors"}),
            frozenset({LAB_A}),
            "Exchange logs XML bodies only: device A's GetAttachment answer (a PDF) and SOGo's text 500 to its "
            "FolderDelete are not in the log, and these rules read the answer of every command",
        ),
    ),
    ("mailbox-log", "faults"): (),
    ("zpush-log", "lab"): (
        ZPUSH_NO_HEADERS,
        NotCheckable(
            frozenset({"ping-heartbeat-out-of-range", "more-available-not-followed"}),
            frozenset({LAB_B}),
            "device B's empty Ping (the lab's Ping Status 3) has no WBXML-IN line, and a log cannot tell an "
            "empty request from one it did not show",
        ),
    ),
    ("zpush-log", "faults"): (ZPUSH_NO_HEADERS,),
}

# Forms that name the server (the .mitm's host:port comes back from the request line and Host header).
HOST_CARRIED = {"har": True, "saz": True, "mailbox-log": True, "zpush-log": False}


def write_mailbox_log(path: Path, flows: Sequence[http.HTTPFlow]) -> None:
    forms.write_mailbox_log(path, flows, hide=MAILBOX_LOG_HIDDEN)


WRITERS: dict[str, Callable[[Path, Sequence[http.HTTPFlow]], None]] = {
    "har": forms.write_har,
    "saz": forms.write_saz,
    "mailbox-log": write_mailbox_log,
    "zpush-log": forms.write_zpush_log,
}


@dataclass(frozen=True, order=True)
class Shape:
    """A finding as the forms are compared: flows by their place in the capture (0 = its first flow)."""

    rule: str
    severity: str
    checked: bool
    user: str | None
    device_id: str | None
    device_type: str | None
    host: str | None
    flows: tuple[int, ...]


@dataclass(frozen=True)
class Diagnosed:
    flow_count: int
    findings: list[Shape]


def import_and_diagnose(source: Path, capture: Path) -> Diagnosed:
    """`eas-inspector import SOURCE CAPTURE`, then `diagnose --json`; flow ids turned into places."""
    imported = cli("import", str(source), str(capture), cwd=capture.parent)
    assert (imported.returncode, imported.stderr) == (0, ""), imported.stderr
    diagnosed = cli("diagnose", "--json", str(capture), cwd=capture.parent)
    assert diagnosed.returncode == 0, diagnosed.stderr
    with CaptureReader(capture) as reader:
        place = {flow_id: index for index, flow_id in enumerate(reader.flow_ids())}
    shapes = [
        Shape(f["rule"], f["severity"], f["checked"], f["user"], f["device_id"], f["device_type"], f["host"],
              tuple(place[flow_id] for flow_id in f["flows"]))
        for f in json.loads(diagnosed.stdout)["findings"]
    ]
    return Diagnosed(len(place), sorted(shapes))


@dataclass(frozen=True)
class Recording:
    name: str
    mitm: Path
    flows: list[http.HTTPFlow]
    devices: frozenset[str]
    reference: Diagnosed


@pytest.fixture(scope="module")
def faults_mitm(mitm_confdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fault scenarios of tests/addon/scripted_eas.py through a plain mitmdump that writes a .mitm."""
    recorded = tmp_path_factory.mktemp("faults") / "faults.mitm"
    scenarios = scripted_eas.scenarios()
    server_run = scripted_eas.serve(scenarios)
    server = next(server_run)
    proxy = start_mitmdump(server.port, mitm_confdir, addon=False, extra=["-w", str(recorded)])
    try:
        for scenario in scenarios:
            scripted_eas.play(proxy.port, scenario)
    finally:
        assert proxy.stop() == 0, proxy.output
        server_run.close()
    return recorded


@pytest.fixture(scope="module")
def recordings(faults_mitm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """Each recording with the diagnosis of its .mitm, which every form is compared with."""
    work = tmp_path_factory.mktemp("references")
    return {
        name: Recording(name, mitm, forms.mitm_flows(mitm), devices, import_and_diagnose(mitm, work / f"{name}.sqlite"))
        for name, mitm, devices in (("lab", forms.LAB_SESSION, frozenset(LAB_DEVICES)),
                                    ("faults", faults_mitm, FAULT_DEVICES))
    }


def test_the_recordings_hold_the_findings_the_forms_are_compared_on(recordings: dict[str, Recording]) -> None:
    """The comparison means something: the .mitm's own diagnosis finds every scripted fault, and the lab's."""
    faults = recordings["faults"].reference.findings
    for scenario in scripted_eas.scenarios():
        found = {shape.rule for shape in faults if shape.device_id == scenario.device_id}
        assert set(scenario.expected) <= found, scenario.device_id
    lab = {(shape.rule, shape.device_id) for shape in recordings["lab"].reference.findings}
    # tests/data/real/README.md: Ping with a heartbeat above SOGo's maximum (Status 5); bob speaks 16.1,
    # which SOGo does not offer.
    assert lab == {("ping-heartbeat-out-of-range", LAB_A), ("version-not-offered", LAB_BOB)}
    for recording in recordings.values():
        assert all(shape.checked for shape in recording.reference.findings)


@pytest.mark.parametrize("recording_name", ["lab", "faults"])
@pytest.mark.parametrize("form", list(WRITERS))
def test_each_form_gives_the_diagnosis_of_the_mitm(
    form: str, recording_name: str, recordings: dict[str, Recording], tmp_path: Path
) -> None:
    recording = recordings[recording_name]
    written = tmp_path / f"{recording_name}.{form}"
    WRITERS[form](written, recording.flows)
    got = import_and_diagnose(written, tmp_path / f"{recording_name}-{form}.sqlite")
    assert got.flow_count == recording.reference.flow_count

    expected_unchecked = {
        (rule, device)
        for exception in NOT_CHECKABLE[(form, recording_name)]
        for rule in exception.rules
        for device in (exception.devices if exception.devices is not None else recording.devices)
    }
    unchecked = {(shape.rule, shape.device_id) for shape in got.findings if not shape.checked}
    assert unchecked == expected_unchecked, "the import says other rules cannot be checked than the form explains"
    assert all(shape.severity == "info" for shape in got.findings if not shape.checked)

    if not HOST_CARRIED[form]:
        assert {shape.host for shape in got.findings} == {ZPUSH_HOST}

    def comparable(shapes: list[Shape]) -> list[Shape]:
        kept = [shape for shape in shapes if shape.checked and (shape.rule, shape.device_id) not in unchecked]
        if HOST_CARRIED[form]:
            return kept
        return sorted(Shape(shape.rule, shape.severity, shape.checked, shape.user, shape.device_id,
                            shape.device_type, None, shape.flows) for shape in kept)

    assert comparable(got.findings) == comparable(recording.reference.findings)
