"""The publisher's bounded buffer: oldest dropped first, by count and by bytes."""

from __future__ import annotations

from detectors.publish import BoundedBuffer, Outgoing


def item(n: int, size: int = 10) -> Outgoing:
    return Outgoing("t", "k", bytes([n % 256]) * size)


def drain(buf: BoundedBuffer) -> list[int]:
    out = []
    while (it := buf.pop()) is not None:
        out.append(it.value[0])
    return out


def test_full_buffer_drops_oldest() -> None:
    buf = BoundedBuffer(max_records=3, max_bytes=10_000)
    dropped = [d.value[0] for i in range(6) for d in buf.push(item(i))]
    assert dropped == [0, 1, 2]
    assert buf.dropped == 3
    assert drain(buf) == [3, 4, 5]
    assert buf.bytes == 0


def test_byte_limit_drops_oldest_but_keeps_the_newest() -> None:
    buf = BoundedBuffer(max_records=100, max_bytes=25)
    for i in range(4):
        buf.push(item(i, size=10))  # each 11 bytes with its key
    assert drain(buf) == [2, 3]
    big = BoundedBuffer(max_records=100, max_bytes=5)
    big.push(item(7, size=50))  # larger than the limit on its own: still kept
    assert drain(big) == [7]


def test_push_front_requeues_unless_full() -> None:
    buf = BoundedBuffer(max_records=2, max_bytes=10_000)
    buf.push(item(1))
    assert buf.push_front(item(0))
    assert not buf.push_front(item(9))
    assert buf.dropped == 1
    assert drain(buf) == [0, 1]
