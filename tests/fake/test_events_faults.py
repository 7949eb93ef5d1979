"""Pure parts of the fake: the event broker's resume and filter rules, fault decisions."""

from __future__ import annotations

from reconciler.testing.fake_nomad.events import EventBroker, Subscription
from reconciler.testing.fake_nomad.faults import Faults


def _event(topic: str, key: str, *, ns: str = "default", filter_keys: list[str] | None = None) -> dict[str, object]:
    return {"Topic": topic, "Type": "T", "Key": key, "Namespace": ns, "FilterKeys": filter_keys, "Index": 0, "Payload": {}}


def _indexes(broker: EventBroker, sub: Subscription) -> list[int]:
    broker.subscribe(sub)
    return [f.index for f in broker.next_frames(sub, timeout=0)]


def test_resume_starts_at_the_closest_earlier_frame() -> None:
    broker = EventBroker()
    for index in (10, 12, 15):
        broker.publish(index, [_event("Job", "web")])
    assert _indexes(broker, Subscription({"Job": {"*"}}, "default", start_index=13)) == [12, 15]
    assert _indexes(broker, Subscription({"Job": {"*"}}, "default", start_index=12)) == [12, 15]
    assert _indexes(broker, Subscription({"Job": {"*"}}, "default", start_index=1)) == [10, 12, 15]
    # No index: Nomad replays what its buffer still holds (its broker starts at the head).
    assert _indexes(broker, Subscription({"Job": {"*"}}, "default", start_index=0)) == [10, 12, 15]


def test_every_event_carries_its_frame_index() -> None:
    broker = EventBroker()
    broker.publish(7, [_event("Job", "web"), _event("Evaluation", "e1", filter_keys=["web", ""])])
    sub = broker.subscribe(Subscription({"*": {"*"}}, "*", start_index=7))
    (frame,) = broker.next_frames(sub, timeout=0)
    assert [e["Index"] for e in frame.events] == [7, 7]


def test_filter_keys_and_namespaces() -> None:
    broker = EventBroker()
    broker.publish(1, [
        _event("Job", "web"), _event("Job", "db"), _event("Deployment", "d1", filter_keys=["web"]),
        _event("Job", "web", ns="other"),
    ])
    sub = broker.subscribe(Subscription({"Job": {"web"}, "Deployment": {"web"}}, "default", start_index=1))
    (frame,) = broker.next_frames(sub, timeout=0)
    assert [(e["Topic"], e["Key"], e["Namespace"]) for e in frame.events] == [
        ("Job", "web", "default"), ("Deployment", "d1", "default"),
    ]


def test_stalled_broker_delivers_nothing() -> None:
    broker = EventBroker()
    sub = broker.subscribe(Subscription({"*": {"*"}}, "*", start_index=0))
    broker.set_stalled(True)
    broker.publish(3, [_event("Job", "web")])
    assert broker.next_frames(sub, timeout=0) == []
    broker.set_stalled(False)
    assert [f.index for f in broker.next_frames(sub, timeout=0)] == [3]


def test_fault_decisions_follow_prefixes_counts_and_clear() -> None:
    faults = Faults()
    faults.add_latency(0.5)
    faults.add_latency(0.25, path_prefix="/v1/job/")
    faults.fail_next(1, status=503, path_prefix="/v1/job/", body="boom")
    assert faults.decide("/v1/jobs").latency_s == 0.5
    first = faults.decide("/v1/job/web")
    assert first.latency_s == 0.75 and first.fail is not None and (first.fail.status, first.fail.body) == (503, "boom")
    assert faults.decide("/v1/job/web").fail is None
    faults.drop_connections(1)
    assert faults.decide("/v1/jobs").drop is True
    faults.lose_leader()
    lost = faults.decide("/v1/jobs").fail
    assert lost is not None and lost.status == 500
    faults.clear()
    assert faults.decide("/v1/jobs") == faults.decide("/v1/agent/self") == type(first)()
