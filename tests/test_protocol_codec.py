"""The wire codec writes what the frame models read, and reads what it writes.

Round-trip properties over generated rows and frames: every text ``protocol.codec`` writes is
read back by the models (``decode_server_frame`` / ``decode_client_frame``) to the same values,
and the client's fast readers (``read_page``, ``read_live``) give exactly the models' rows and
keep each row's text as written. A fast reader that accepted something differently from the
models, or a writer whose text the models read otherwise, fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import Category, Note, Priority, Request, Status
from protocol.codec import (
    LiveRow,
    Page,
    ack_text,
    alert_text,
    bulk_ack_text,
    by_prefix,
    change_text,
    changes_page,
    decode_client_frame,
    decode_server_frame,
    encode,
    hello_text,
    mutate_text,
    presence_text,
    read_for_client,
    read_live,
    read_page,
    snapshot_page,
)
from protocol.frames import (
    Ack,
    Alert,
    Change,
    ChangeBy,
    ChangeEntry,
    Changes,
    Error,
    Hello,
    Mutate,
    PresenceUpdate,
    Reject,
    Snapshot,
    Synced,
    UserInfo,
    Welcome,
)

COUNTER = st.integers(min_value=0, max_value=2**63 - 1)
POSITIVE = st.integers(min_value=1, max_value=2**63 - 1)
TEXT = st.text(max_size=40)
"""Any text a person may type: quotes, braces, ``},{"seq":`` marks, emoji, control chars."""
WHEN = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
NOTE = st.builds(Note, author=TEXT, at=WHEN, text=TEXT)


@st.composite
def rows(draw: st.DrawFn) -> Request:
    return Request(
        id=draw(TEXT),
        number=draw(st.none() | COUNTER),
        room=draw(TEXT),
        category=draw(st.sampled_from(Category)),
        description=draw(TEXT),
        guest_name=draw(st.none() | TEXT),
        priority=draw(st.sampled_from(Priority)),
        status=draw(st.sampled_from(Status)),
        assignee=draw(st.none() | TEXT),
        created_by=draw(TEXT),
        created_at=draw(WHEN),
        updated_at=draw(WHEN),
        due_at=draw(WHEN),
        version=draw(POSITIVE),
        notes=tuple(draw(st.lists(NOTE, max_size=3))),
        acknowledged_at=draw(st.none() | WHEN),
        completed_at=draw(st.none() | WHEN),
        field_versions=draw(st.dictionaries(TEXT, COUNTER, max_size=3)),
    )


ROWS = st.lists(rows(), max_size=6)


@settings(max_examples=30, deadline=None)
@given(entries=st.lists(st.tuples(COUNTER, rows()), max_size=6), more=st.booleans())
def test_a_changes_page_reads_back_as_written(entries, more):
    text = changes_page([(seq, row.model_dump_json()) for seq, row in entries], more)
    expected = Changes(changes=[ChangeEntry(seq=s, request=r) for s, r in entries], more=more)
    assert decode_server_frame(text) == expected
    page = read_page(text)
    assert page == Page([(s, r, r.model_dump_json()) for s, r in entries], more)
    assert read_for_client(text, {}) == page


@settings(max_examples=30, deadline=None)
@given(requests=ROWS, seq=COUNTER, more=st.booleans())
def test_a_snapshot_page_reads_back_as_written(requests, seq, more):
    text = snapshot_page([row.model_dump_json() for row in requests], seq, more)
    assert decode_server_frame(text) == Snapshot(requests=requests, seq=seq, more=more)
    page = read_page(text)
    assert page == Page([(seq, r, r.model_dump_json()) for r in requests], more, seq)


@settings(max_examples=30, deadline=None)
@given(row=rows(), n=POSITIVE, seq=COUNTER, user=TEXT, client_id=TEXT)
def test_an_ack_and_its_change_read_back_as_written(row, n, seq, user, client_id):
    data = row.model_dump_json()
    ack = ack_text(n, seq, data)
    assert decode_server_frame(ack) == Ack(n=n, seq=seq, request=row)
    by = by_prefix(user, client_id) + f"{n}}}"
    change = change_text(seq, data, by)
    expected = Change(seq=seq, request=row, by=ChangeBy(user=user, client_id=client_id, n=n))
    assert decode_server_frame(change) == expected
    recent: dict[str, Request] = {}
    acked = read_live(ack, recent)
    assert acked == LiveRow(n, seq, row, data)
    # The change repeating the ack's row is recognised, and gives the very same row.
    live = read_live(change, recent)
    assert live == LiveRow(None, seq, row, data)
    assert acked is not None and live is not None and live.row is acked.row


@settings(max_examples=40, deadline=None)
@given(
    requests=ROWS,
    n=POSITIVE,
    seq=COUNTER,
    kind=st.sampled_from(["urgent", "sla_breach", "escalated"]),
    row=rows(),
)
def test_bulk_acks_and_alerts_read_back_as_written(requests, n, seq, kind, row):
    bulk = bulk_ack_text(n, seq, [r.model_dump_json() for r in requests])
    assert decode_server_frame(bulk) == Ack(n=n, seq=seq, requests=requests)
    assert read_live(bulk, {}) is None  # not a one-row ack: the models read it
    assert decode_server_frame(alert_text(kind, row.model_dump_json())) == Alert(
        kind=kind, request=row
    )


SERVER_FRAMES = st.one_of(
    st.builds(
        Welcome,
        server_id=TEXT,
        user=st.builds(UserInfo, name=TEXT),
        seq=COUNTER,
        last_mutation=COUNTER,
        server_time=st.none() | TEXT,
    ),
    st.builds(Synced, seq=COUNTER),
    st.builds(
        Reject,
        n=POSITIVE,
        code=TEXT,
        message=TEXT,
        current=st.none() | rows(),
        fields=st.dictionaries(TEXT, TEXT, max_size=3),
    ),
    st.builds(Error, code=TEXT, message=TEXT, ref=st.none() | TEXT, n=st.none() | POSITIVE),
)


@settings(max_examples=40, deadline=None)
@given(frame=SERVER_FRAMES)
def test_any_server_frame_encoded_by_its_model_reads_back_equal(frame):
    text = encode(frame)
    assert decode_server_frame(text) == frame
    assert read_for_client(text, {}) == frame


@settings(max_examples=40, deadline=None)
@given(
    client_id=TEXT,
    last_seq=COUNTER,
    n=POSITIVE,
    name=TEXT,
    args=st.dictionaries(TEXT, st.none() | TEXT | COUNTER | st.booleans(), max_size=4),
    base_version=st.none() | POSITIVE,
    viewing=st.none() | TEXT,
    editing=st.booleans(),
)
def test_client_frames_read_back_as_written(
    client_id, last_seq, n, name, args, base_version, viewing, editing
):
    assert decode_client_frame(hello_text(client_id, last_seq)) == Hello(
        client_id=client_id, last_seq=last_seq
    )
    mutate = mutate_text(client_id, n, name, args, base_version)
    assert decode_client_frame(mutate) == Mutate(
        client_id=client_id, n=n, name=name, args=args, base_version=base_version
    )
    assert "base_version" in json.loads(mutate) or base_version is None
    assert decode_client_frame(presence_text(viewing, editing)) == PresenceUpdate(
        viewing=viewing, editing=editing
    )


@settings(max_examples=40, deadline=None)
@given(entries=st.lists(st.tuples(COUNTER, rows()), min_size=1, max_size=4), more=st.booleans())
def test_a_page_in_another_shape_is_left_to_the_models(entries, more):
    """Spaces, or another key order: the fast reader declines, the models still read it."""
    frame = Changes(changes=[ChangeEntry(seq=s, request=r) for s, r in entries], more=more)
    spaced = json.dumps(json.loads(frame.model_dump_json()))
    assert read_page(spaced) is None
    assert read_for_client(spaced, {}) == frame
    reordered = json.dumps({"more": more, **json.loads(frame.model_dump_json())})
    assert read_page(reordered) is None
    assert decode_server_frame(reordered) == frame
