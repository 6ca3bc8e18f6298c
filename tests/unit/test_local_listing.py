"""LocalStore ListObjectsV2: byte order, prefixes, delimiters, start-after and paging, checked
against a brute-force model of S3's rules over the same keys."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from s3proxy.backends.local import LocalStore
from tests.unit.local_helpers import BUCKET, put, run

KEYS = [
    "a",
    "a/",
    "a/b",
    "a/b/c",
    "a/b/d",
    "a/c",
    "a-b",
    "a//x",
    "ab",
    "b/\u00e9",
    "b/e\u0301",
    "b/\U0001f600",
    "b/\uffff",
    "b/\x01ctl",
    "c\x7f",
    "z",
]


def model(
    keys: list[str], prefix: str, delimiter: str | None, start_after: str | None
) -> list[tuple[str, bool]]:
    """Every (name, is_prefix) S3 returns, in order, without paging."""
    out: list[tuple[str, bool]] = []
    ordered = sorted(keys, key=lambda k: k.encode())
    for key in ordered:
        if not key.startswith(prefix):
            continue
        if start_after is not None and key.encode() <= start_after.encode():
            continue
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if not out or out[-1] != (common, True):
                    out.append((common, True))
                continue
        out.append((key, False))
    return out


async def list_all(
    store: LocalStore, prefix: str, delimiter: str | None, start_after: str | None, size: int
) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    token = None
    for _ in range(100):
        page = await store.list_objects(BUCKET, prefix, delimiter, start_after, size, token)
        assert len(page.entries) + len(page.prefixes) <= size
        items = [(e.key, False) for e in page.entries] + [(p, True) for p in page.prefixes]
        found.extend(sorted(items, key=lambda item: item[0].encode()))
        token = page.next_token
        if token is None:
            return found
        assert len(items) == size  # only a full page may be truncated
    raise AssertionError("listing did not end")


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_listing_matches_model(tmp_path: Path, size: int) -> None:
    async def scenario(store: LocalStore) -> None:
        for key in KEYS:
            await put(store, key, key.encode("utf-8", "surrogatepass"))
        await put(store, "a/b", b"other bucket", bucket="elsewhere")
        cases = [
            ("", None, None),
            ("", "/", None),
            ("a", "/", None),
            ("a/", "/", None),
            ("b/", None, None),
            ("", "b", None),
            ("", "/", "a/b"),
            ("", "/", "a/"),
            ("a/", "/", "a/b/c"),
            ("", None, "b/\U0001f600"),
            ("zz", "/", None),
            ("", "//", None),
        ]
        for prefix, delimiter, start_after in cases:
            expected = model(KEYS, prefix, delimiter, start_after)
            got = await list_all(store, prefix, delimiter, start_after, size)
            assert got == expected, (prefix, delimiter, start_after)

    run(tmp_path / "data", scenario)


def test_listing_entries_carry_size_etag_and_iso_date(tmp_path: Path) -> None:
    async def scenario(store: LocalStore) -> None:
        etag = await put(store, "k", b"12345")
        page = await store.list_objects(BUCKET, "", None, None, 10)
        (entry,) = page.entries
        assert (entry.key, entry.size, entry.etag) == ("k", 5, etag)
        assert entry.last_modified.endswith(".000Z") and "T" in entry.last_modified
        empty = await store.list_objects(BUCKET, "", None, None, 0)
        assert (empty.entries, empty.prefixes, empty.next_token) == ([], [], None)

    run(tmp_path / "data", scenario)


def test_random_keys_page_in_byte_order(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    alphabet = ["a", "b", "/", "-", "\u00e9", "\U0001f600", "\x7f", "~"]
    keys = sorted({"".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(300)})

    async def scenario(store: LocalStore) -> None:
        for key in keys:
            await put(store, key, b"")
        for delimiter in (None, "/", "b"):
            expected = model(keys, "", delimiter, None)
            got = await list_all(store, "", delimiter, None, 7)
            assert got == expected, f"seed {seed}, delimiter {delimiter!r}"

    run(tmp_path / "data", scenario)
