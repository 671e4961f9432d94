"""The Identity Platform: users and teams (contract 1.2, ``identity``), and the lookup
that turns the ``owner_emails`` of every other source into user ids."""

from __future__ import annotations

from typing import Any

from mds.wire.model import EntityType, NormalizedEntity, Rel
from mdsd.connectors.base import EventSpec, Hydrated, HydrationResult
from mdsd.connectors.guards import MISS, TtlCache
from mdsd.connectors.http import NotFound
from mdsd.connectors.ids import ref
from mdsd.connectors.payload import Payload, entity, refs
from mdsd.connectors.policy import SourcePolicy
from mdsd.connectors.rest import Collection, RestConnector

#: owners repeat across thousands of entities and emails rarely move, so a found user is
#: remembered for minutes; a miss only for the source's response TTL (the user may appear)
EMAIL_TTL_SECONDS = 300.0
EMAIL_CACHE_ENTRIES = 50_000


def user(p: Payload) -> list[NormalizedEntity]:
    return [
        entity(
            p,
            EntityType.USER,
            p.id("id"),
            attributes={"email": p.text("email")},
            relationships={Rel.MEMBER_OF: refs(EntityType.TEAM, p.ids("team_ids"))},
        )
    ]


def team(p: Payload) -> list[NormalizedEntity]:
    return [
        entity(p, EntityType.TEAM, p.id("id"), mentions=refs(EntityType.USER, p.ids("member_ids")))
    ]


def _owner_among(users: list[Payload], email: str) -> Payload | None:
    """The user a ``users?email=`` answer names for ``email`` (lowercased), if any.

    The lookup may answer several users (a directory search matching by prefix, say):
    the first whose email is ``email``, case aside, is the owner. Failing that, one that
    states no email is taken on the source's word. A user whose stated email is another
    address never is: taking the first answer made ``ann@example.co`` owned by whoever
    had ``ann@example.com.au``.
    """
    unstated: Payload | None = None
    for user in users:
        stated = (user.text("email") or "").strip().lower()
        if stated == email:
            return user
        if not stated and unstated is None:
            unstated = user
    return unstated


class IdentityConnector(RestConnector):
    source = "identity"
    events = {
        "user_updated": EventSpec(EntityType.USER, ("user_id",)),
        "team_updated": EventSpec(EntityType.TEAM, ("team_id",)),
    }
    collections = (
        Collection("users", EntityType.USER, user),
        Collection("teams", EntityType.TEAM, team),
    )

    def __init__(self, policy: SourcePolicy, **options: Any) -> None:
        super().__init__(policy, **options)
        self._emails: TtlCache[str, str | None] = TtlCache(
            EMAIL_TTL_SECONDS, EMAIL_CACHE_ENTRIES, self.client.clock
        )
        self._miss_ttl = policy.cache_ttl_seconds

    async def resolve_email(self, email: str) -> str | None:
        """The aip id of the user with this email (case-insensitive), None if there is none.

        Raises ``SourceUnavailable`` like ``hydrate``.
        """
        key = email.strip().lower()
        if not key:
            return None
        hit = self._emails.get(key)
        if hit is not MISS:
            return hit
        body = await self.client.get_json("/api/v1/users", {"email": email.strip()})
        user_id = None
        if not isinstance(body, NotFound):
            users = Payload(body, f"identity users?email={email}").objects("users")
            found = _owner_among(users, key)
            user_id = ref(EntityType.USER, found.id("id")) if found else None
        self._emails.put(key, user_id, None if user_id else self._miss_ttl)
        return user_id

    async def hydrate(self, unit_id: str) -> HydrationResult:
        result = await super().hydrate(unit_id)
        if isinstance(result, Hydrated):  # a fresh user payload is the best email lookup
            for e in result.entities:
                email = e.attributes.get("email")
                if e.entity_type is EntityType.USER and isinstance(email, str) and email.strip():
                    self._emails.put(email.strip().lower(), e.id)
        return result
