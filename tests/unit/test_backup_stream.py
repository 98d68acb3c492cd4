"""The encrypted backup format alone (webapp/backups/stream.py): real AES-GCM, small chunks so
every boundary case is a few bytes long."""

from __future__ import annotations

import io
import json
import os
import struct

import pytest

from webapp.backups import stream
from webapp.backups.stream import (
    FormatError,
    Reader,
    TamperedError,
    Writer,
    WrongKeyError,
)

KEY = bytes(range(32))
CHUNK = 16
BLOCK = CHUNK + stream.TAG_BYTES
FIELDS = {"app": "homeward", "kind": "sqlite", "revision": "r1", "data_key_ids": ["k1"]}


def seal(data: bytes, key: bytes = KEY, fields=FIELDS, pieces: int = 3) -> bytes:
    out = io.BytesIO()
    writer = Writer(out, key, fields, chunk_size=CHUNK)
    # Written in uneven pieces: chunking must not depend on how the caller splits its writes.
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    writer.close()
    return out.getvalue()


def open_(blob: bytes, key: bytes = KEY) -> bytes:
    return b"".join(Reader(io.BytesIO(blob), key).chunks())


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    (length,) = struct.unpack(">I", blob[len(stream.MAGIC) : len(stream.MAGIC) + 4])
    head = len(stream.MAGIC) + 4 + length
    body = blob[head:]
    return blob[:head], [body[i : i + BLOCK] for i in range(0, len(body), BLOCK)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 3])
def test_round_trip_every_boundary(size):
    data = os.urandom(size)
    blob = seal(data)
    assert open_(blob) == data
    header, blocks = split(blob)
    # Every chunk but the last is full; the last is shorter (possibly empty) and flags the end.
    assert all(len(b) == BLOCK for b in blocks[:-1])
    assert len(blocks[-1]) < BLOCK
    assert len(blocks) == size // CHUNK + 1


def test_header_is_readable_without_the_key_and_authentic_with_it():
    blob = seal(b"x" * 40)
    plain = stream.read_header(io.BytesIO(blob))
    assert plain["revision"] == "r1" and plain["data_key_ids"] == ["k1"]
    assert Reader(io.BytesIO(blob), KEY).header.fields == plain.fields
    assert b"x" * 8 not in blob  # the data itself is never in the clear


def test_each_file_has_its_own_key_and_nonces():
    data = b"same data" * 10
    a, b = seal(data), seal(data)
    assert split(a)[1] != split(b)[1]


def test_wrong_key_is_named_as_such():
    blob = seal(b"data" * 20)
    with pytest.raises(WrongKeyError, match="made with backup key"):
        Reader(io.BytesIO(blob), bytes(32))


def test_wrong_key_with_a_forged_key_id_still_fails():
    other = bytes(32)
    blob = seal(b"data" * 20)
    forged = blob.replace(
        json.dumps(stream.key_id(KEY)).encode(), json.dumps(stream.key_id(other)).encode()
    )
    assert forged != blob
    with pytest.raises(TamperedError, match="chunk 0"):
        open_(forged, other)


@pytest.mark.parametrize("where", ["header", "first", "middle", "last"])
def test_a_flipped_bit_anywhere_fails(where):
    blob = bytearray(seal(os.urandom(4 * CHUNK + 5)))
    header, blocks = split(bytes(blob))
    offsets = {
        "header": header.index(b'"revision"') + 12,
        "first": len(header) + 3,
        "middle": len(header) + 2 * BLOCK + 7,
        "last": len(blob) - 1,
    }
    blob[offsets[where]] ^= 0x01
    with pytest.raises(TamperedError):
        open_(bytes(blob))


def test_header_edit_that_stays_valid_json_fails():
    blob = seal(b"y" * 50)
    forged = blob.replace(b'"revision":"r1"', b'"revision":"r2"')
    assert forged != blob
    with pytest.raises(TamperedError, match="chunk 0"):
        Reader(io.BytesIO(forged), KEY)


def test_reordered_chunks_fail():
    header, blocks = split(seal(os.urandom(4 * CHUNK + 5)))
    blocks[1], blocks[2] = blocks[2], blocks[1]
    with pytest.raises(TamperedError, match="chunk 1"):
        open_(header + b"".join(blocks))


def test_dropped_chunk_fails():
    header, blocks = split(seal(os.urandom(4 * CHUNK + 5)))
    del blocks[2]
    with pytest.raises(TamperedError, match="chunk 2"):
        open_(header + b"".join(blocks))


@pytest.mark.parametrize("size", [3 * CHUNK + 5, 3 * CHUNK])
def test_cut_at_a_chunk_boundary_fails(size):
    # With 3 * CHUNK the final chunk is empty: the first three still decrypt, yet the file is
    # refused, because none of them is flagged as the last.
    header, blocks = split(seal(os.urandom(size)))
    with pytest.raises(TamperedError, match="cut short"):
        open_(header + b"".join(blocks[:-1]))


def test_cut_inside_a_chunk_fails():
    blob = seal(os.urandom(3 * CHUNK + 5))
    for cut in (1, 5, BLOCK - 1, BLOCK + 3):
        with pytest.raises(TamperedError):
            open_(blob[:-cut])


def test_cut_inside_the_header_fails():
    blob = seal(b"z")
    with pytest.raises(TamperedError, match="header"):
        Reader(io.BytesIO(blob[:30]), KEY)


def test_data_after_the_end_fails():
    blob = seal(os.urandom(2 * CHUNK + 5))
    with pytest.raises(TamperedError):
        open_(blob + b"more")
    header, blocks = split(seal(os.urandom(2 * CHUNK)))
    # A whole second file's final chunk appended after a complete one.
    with pytest.raises(TamperedError):
        open_(header + b"".join(blocks) + blocks[-1])


def test_not_a_backup_and_unknown_format():
    with pytest.raises(FormatError, match="not a Homeward backup"):
        Reader(io.BytesIO(b"SQLite format 3\x00" + bytes(100)), KEY)
    blob = seal(b"data")
    newer = blob.replace(b'"format":1', b'"format":9')
    with pytest.raises(FormatError, match="format 9"):
        Reader(io.BytesIO(newer), KEY)


def test_nothing_is_released_until_the_next_chunk_is_authentic():
    header, blocks = split(seal(os.urandom(3 * CHUNK + 5)))
    blocks[3] = bytes(len(blocks[3]))  # the final chunk is garbage
    released = []
    with pytest.raises(TamperedError):
        for piece in Reader(io.BytesIO(header + b"".join(blocks)), KEY).chunks():
            released.append(piece)
    # Chunks 0-1 were handed on, chunk 2 (the last good one) was held back: a consumer such as
    # pg_restore never has the whole dump from a file that is not wholly authentic.
    assert len(released) == 2


class CountingReader(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.most = 0

    def read(self, size=-1):
        got = super().read(size)
        self.most = max(self.most, self.tell())
        return got


def test_streams_without_reading_the_whole_file():
    blob = seal(os.urandom(200 * CHUNK))
    fh = CountingReader(blob)
    first = next(Reader(fh, KEY).chunks())
    assert len(first) == CHUNK
    assert fh.most < len(blob) // 10


def test_keys(tmp_path, monkeypatch):
    key = stream.generate_key()
    text = stream.encode_key(key)
    assert len(text) == 44 and stream.decode_key(text + "\n", "x") == key
    loaded = stream.load_key({stream.ENV_KEY: text}, None)
    assert loaded.key == key and loaded.source == stream.ENV_KEY
    assert text not in repr(loaded)
    path = tmp_path / "k"
    path.write_text(stream.encode_key(bytes(32)))
    path.chmod(0o644)
    # --key-file wins over the environment, and a file others can read is warned about.
    from_file = stream.load_key({stream.ENV_KEY: text}, path)
    assert from_file.key == bytes(32) and "chmod 600" in from_file.warning
    with pytest.raises(stream.BackupKeyError, match="no backup key"):
        stream.load_key({}, None)
    with pytest.raises(stream.BackupKeyError, match="16 bytes") as err:
        stream.load_key({stream.ENV_KEY: stream.encode_key(bytes(16))}, None)
    with pytest.raises(stream.BackupKeyError, match="not base64"):
        stream.load_key({stream.ENV_KEY: "not a key!"}, None)
    with pytest.raises(stream.BackupKeyError, match="does not exist"):
        stream.load_key({}, tmp_path / "missing")
    assert "AAAA" not in str(err.value)
