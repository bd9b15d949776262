"""Reading one flow and its analysis off the UI thread (the exchange screen, the editor and the split's detail)."""

from __future__ import annotations

from capture.model import FlowRecord
from viewer.messages import LoadedFlow
from viewer.source import CaptureSource


def analysed(record: FlowRecord, original: LoadedFlow | None = None, replay_ids: tuple[int, ...] = ()) -> LoadedFlow:
    """A record with its analysis (the analysis failing is recorded, not raised)."""
    try:
        exchange, error = record.exchange(), None
    except Exception as err:  # noqa: BLE001 - shown in the Problems tab; raw bytes stay available
        exchange, error = None, f"{type(err).__name__}: {err}"
    return LoadedFlow(record, exchange, error, original, replay_ids)


def load_flow(source: CaptureSource, flow_id: int, with_original: bool = True) -> LoadedFlow:
    """Read one flow, its replays' ids and (for a replay) its original, and analyse them. Runs in a worker."""
    record, replays = source.call(lambda r: (r.flow(flow_id), r.replays(flow_id)))
    original = None
    if with_original and record.row.replay_of is not None:
        try:
            original = load_flow(source, record.row.replay_of, with_original=False)
        except Exception:  # noqa: BLE001 - the replay is still worth showing without its original
            original = None
    return analysed(record, original, tuple(r.id for r in replays))


__all__ = ["analysed", "load_flow"]
