"""The seekable reader S3 uploads hand to botocore, and the part split: the same bytes as the
joined chunks, whatever the chunking, seeks and read sizes."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from files_service.storage.s3 import _ChunksReader, _split

CHUNKS = st.lists(st.binary(max_size=50), max_size=20)


@given(CHUNKS, st.lists(st.tuples(st.integers(0, 300), st.integers(-1, 80)), max_size=10))
def test_reads_and_seeks_match_the_joined_bytes(chunks, steps):
    joined = b"".join(chunks)
    reader = _ChunksReader(chunks)
    model = io.BytesIO(joined)
    assert len(reader) == len(joined)
    assert reader.read() == joined
    for position, size in steps:
        reader.seek(position)
        model.seek(position)
        assert reader.read(size) == model.read(size)
        assert reader.tell() == model.tell()
    reader.seek(0, io.SEEK_END)
    assert reader.tell() == len(joined)


@given(CHUNKS, st.integers(0, 400))
def test_split_cuts_exactly(chunks, size):
    joined = b"".join(chunks)
    head, rest = _split(chunks, size)
    assert b"".join(head) == joined[:size]
    assert b"".join(head) + b"".join(rest) == joined


def test_parts_start_small_and_double_every_thousand():
    from files_service.storage.s3 import MAX_PART_SIZE, MIN_PART_SIZE, S3Storage

    storage = S3Storage("bucket", client=object())
    assert storage.part_limit(1) == storage.part_limit(1000) == MIN_PART_SIZE
    assert storage.part_limit(1001) == 2 * MIN_PART_SIZE
    assert storage.part_limit(3001) == 8 * MIN_PART_SIZE
    assert storage.part_limit(10_000) <= MAX_PART_SIZE
    most = sum(storage.part_limit(n) for n in range(1, 10_001))
    assert most > 5 * 1000**4  # about 5 TB within S3's 10,000 parts
