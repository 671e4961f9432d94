"""Reading a hydration unit from its source, owners resolved: the hydrator's one question.

``LocalFetcher`` answers it with connectors in this process. ``mdsd.hydration.workers`` answers
it from worker processes that each run a ``LocalFetcher``, so the CPU that HTTP and
normalization cost is spent beside the daemon's event loop rather than on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from mdsd.connectors import Connector, Hydrated, HydrationResult, SourceUnavailable
from mdsd.connectors.identity import IdentityConnector
from mdsd.connectors.ids import email_user

#: per source key, what ``Connector.stats`` says (``mds status`` -> ``sources``)
SourceStats = dict[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class Fetched:
    """A unit as its source describes it now, with each entity's owners as user ids."""

    result: HydrationResult
    owners: dict[str, list[str]]


class Fetcher(ABC):
    """Where the hydrator's reads happen. ``fetch`` raises ``SourceUnavailable`` (retry
    later) or ``InvalidPayload`` (dead-letter); a 404 is a ``Gone`` result."""

    @property
    @abstractmethod
    def sources(self) -> AbstractSet[str]:
        """The source keys it can read."""

    async def start(self) -> None:
        """Get ready to fetch (worker processes start here)."""
        return None

    @abstractmethod
    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        """Read ``unit`` from ``source``. ``fresh``: an event said it changed, so no cached
        answer may serve."""

    @abstractmethod
    async def stats(self) -> SourceStats:
        """Per source, the counters of the clients that did the reading."""

    async def users_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        """The identity user each email of ``emails`` belongs to, for the emails identity
        knows; raises ``SourceUnavailable`` while it cannot say. Without an identity
        source no email is known. For a source that names owners only by email
        (OpenLineage), where an unknown email is an owner of its own."""
        return {}

    def processes(self) -> list[dict[str, object]]:
        """The worker processes reading for this fetcher (``pid``: None while down)."""
        return []

    async def aclose(self) -> None:
        return None


class LocalFetcher(Fetcher):
    """Fetches with this process's connectors."""

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self.connectors = connectors

    @property
    def sources(self) -> AbstractSet[str]:
        return self.connectors.keys()

    async def fetch(self, source: str, unit: str, *, fresh: bool) -> Fetched:
        connector = self.connectors[source]
        if fresh:
            connector.invalidate(unit)
        result = await connector.hydrate(unit)
        owners: dict[str, list[str]] = {}
        if isinstance(result, Hydrated):
            for entity in result.entities:
                if entity.owners or entity.owner_emails:
                    resolved = await self.resolve_owners(entity.owner_emails)
                    owners[entity.id] = [*entity.owners, *resolved]
        return Fetched(result, owners)

    async def resolve_owners(self, emails: list[str]) -> list[str]:
        """Owner emails -> user ids, through the identity source when it is configured."""
        identity = self.connectors.get("identity")
        owners: list[str] = []
        for email in emails:
            if isinstance(identity, IdentityConnector):
                try:
                    user = await identity.resolve_email(email)
                except SourceUnavailable:
                    user = None
                if user is None:
                    continue
            else:
                user = email_user(email)
            owners.append(user)
        return owners

    async def users_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        identity = self.connectors.get("identity")
        if not isinstance(identity, IdentityConnector):
            return {}
        found: dict[str, str] = {}
        for email in emails:
            user = await identity.resolve_email(email)
            if user is not None:
                found[email] = user
        return found

    async def stats(self) -> SourceStats:
        return {key: connector.stats() for key, connector in self.connectors.items()}
