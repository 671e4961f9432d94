"""An email is an identity: without an identity source, an owner is the whole address."""

from __future__ import annotations

from mdsd.connectors.ids import email_user
from mdsd.hydration.fetching import LocalFetcher


async def test_without_identity_an_email_is_the_user() -> None:
    fetcher = LocalFetcher({})
    owners = await fetcher.resolve_owners(
        ["alice@example.com", "alice@other.org", " Alice@Example.com "]
    )
    assert owners == [
        "aip://user/identity/alice@example.com",
        "aip://user/identity/alice@other.org",
        "aip://user/identity/alice@example.com",
    ], "same local part, two people; case and spaces aside, one"
    assert email_user("Bob@Example.com") == "aip://user/identity/bob@example.com"
