"""The CleverTap action catalog as Membrane serves it, and the deterministic `intent` ranking (membrane-api.md §3.3).

Actions get stable ids in catalog order (`act_01` … `act_15`), so the same catalog always answers the same ids.

Ranking (§10 #7): keyword overlap between the intent and each action's name, key and description. Words are
lower-cased, split on anything that is not a letter or digit, stripped of stop words and lightly stemmed; intent words
are also expanded through a small synonym table, so natural phrasings such as "how many users are online now" or
"send a push campaign" reach the action that does it. Each intent word counts once: `NAME_WEIGHT` when it or one of
its synonyms is in the name or key, 1 when only in the description.

Every action is returned, best first, ordered by this key (smallest first):

    (-score, unmentioned, id)

- `score`: the overlap score above.
- `unmentioned`: for an action with a positive score, the number of distinct stems of its name and key that no intent
  word (nor any synonym of one) stands for; 0 for an action that scores nothing. "export profiles" thus ranks the
  first page of profiles (`get-user-profiles`) above the next one (`get-user-profiles-by-cursor`).
- `id`: the action id, the final tiebreak (ids are zero-padded, so string order is catalog order).

Contract §10 #7 says ties are broken by id. The `unmentioned` step between score and id is the sandbox's documented
refinement of that rule: it only reorders actions with equal positive scores, and whatever it leaves tied is broken
by id, so the order is a pure function of the intent and the catalog, whatever order the actions come in. The real
service ranks by meaning and does not publish how, so any stable order is honest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from clevertap_mcp.sandbox.connector import ACTIONS, ActionSpec
from clevertap_mcp.sandbox.membrane.errors import NotFound

__all__ = ["CATALOG", "ActionCatalog", "CatalogAction", "stems"]

NAME_WEIGHT = 3
_WORD = re.compile(r"[a-z0-9]+")
# fmt: off
_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "at", "be", "by", "can", "do", "for", "from", "how", "i", "in", "is", "it", "me", "my",
    "of", "on", "or", "our", "please", "the", "their", "them", "there", "this", "to", "us", "want", "we", "what",
    "which", "who", "will", "with", "you", "your",
})
# fmt: on
# Intent word -> the catalog words it stands for. Only intents are expanded, so catalog text stays literal. Both
# sides are stemmed once at import, so the table can be written in plain words.
_SYNONYM_WORDS: dict[str, str] = {
    "many number total tally": "count",
    "online live now current currently realtime": "active real time",
    "user users customer people person contact": "user profile",
    "remove erase forget purge": "delete",
    "send launch schedule blast": "create",
    "notification": "campaign push",
    "message broadcast": "campaign",
    "track log": "upload event",
    "record ingest import update edit": "upload",
    "export download fetch list show retrieve": "get",
    "stats statistics metrics performance results": "report",
    "halt cancel pause abort": "stop",
}


def stems(text: str) -> set[str]:
    """The distinct stems of the words of `text`, stop words left out."""
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS}


def _stem(word: str) -> str:
    # A few suffix rules are enough for a 15-action catalog: users/user, counting/count, deleted/delete/delet.
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # stopped -> stopp -> stop
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


_SYNONYMS: dict[str, frozenset[str]] = {
    _stem(word): frozenset(_stem(target) for target in targets.split())
    for words, targets in _SYNONYM_WORDS.items()
    for word in words.split()
}


def _expand(intent_stems: Iterable[str]) -> list[frozenset[str]]:
    """One group per intent word: the word's stem and the catalog stems it stands for."""
    return [frozenset({stem, *_SYNONYMS.get(stem, frozenset[str]())}) for stem in sorted(intent_stems)]


@dataclass(frozen=True)
class CatalogAction:
    id: str
    spec: ActionSpec
    title_stems: frozenset[str]  # name and key
    description_stems: frozenset[str]

    def score(self, intent_groups: list[frozenset[str]]) -> int:
        """Each intent word counts once, at the best place any of its forms appears."""
        return sum(
            NAME_WEIGHT if group & self.title_stems else 1 if group & self.description_stems else 0
            for group in intent_groups
        )


class ActionCatalog:
    def __init__(self, specs: Iterable[ActionSpec]) -> None:
        self.actions = tuple(
            CatalogAction(
                id=f"act_{index:02d}",
                spec=spec,
                title_stems=frozenset(stems(f"{spec.name} {spec.key}")),
                description_stems=frozenset(stems(spec.description)),
            )
            for index, spec in enumerate(specs, start=1)
        )

    def find(self, id_or_key: str) -> CatalogAction:
        for action in self.actions:
            if id_or_key in (action.id, action.spec.key):
                return action
        raise NotFound(f"Action '{id_or_key}' was not found")

    def matching(self, search: str | None) -> list[CatalogAction]:
        """The `search` filter: a case-insensitive substring of the name or key."""
        if not search:
            return list(self.actions)
        needle = search.lower()
        return [a for a in self.actions if needle in a.spec.name.lower() or needle in a.spec.key.lower()]

    def ranked(self, actions: list[CatalogAction], intent: str) -> list[CatalogAction]:
        """`actions` best first for `intent`, by `(-score, unmentioned, id)` (see the module docstring)."""
        groups = _expand(stems(intent))
        mentioned = frozenset[str]().union(*groups)

        def order(action: CatalogAction) -> tuple[int, int, str]:
            score = action.score(groups)
            return -score, len(action.title_stems - mentioned) if score else 0, action.id

        return sorted(actions, key=order)


CATALOG = ActionCatalog(ACTIONS)
