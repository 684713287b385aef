"""The ``perspective`` toxicity scorer: Perspective's TOXICITY summary score, the default when a key is given."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trust_api import EndpointKey, endpoint_key, is_official, public_url, refuse_insecure
from trust_core.plugin import BackendOptions, Judge, JudgeQuery, UserError, Verdict
from trust_perspective.client import (
    ATTRIBUTE,
    DEFAULT_URL,
    KeyRejectedError,
    PerspectiveClient,
    Settings,
    parse_settings,
)

if TYPE_CHECKING:
    from trust_core.plugin import ComponentContext

SECRET = "perspective"
"""The provider name of the API key in ``BackendOptions.secrets``."""
WHO = "--toxicity-scorer perspective"


class PerspectiveJudge(Judge):
    """Toxicity in [0, 1] per text (``Verdict.score`` = TOXICITY ``summaryScore``, label ``TOXICITY``).

    Failures (after retries) are failed verdicts with the reason, never dropped; once Perspective rejects
    the key, the remaining texts fail at once with that reason instead of being sent.
    """

    name = "perspective"
    version = "1"
    description = "Perspective API TOXICITY summary score (needs --perspective-api-key); default toxicity scorer"
    kinds = frozenset({"toxicity"})
    default_for = frozenset({"toxicity"})
    needs_key = SECRET
    key_env_var = "PERSPECTIVE_API_KEY"

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        """A reason when there is no Perspective key among ``secrets``."""
        if secrets.get(SECRET):
            return None
        return "no Perspective API key (pass --perspective-api-key or set PERSPECTIVE_API_KEY)"

    def __init__(self, argument: str | None, context: ComponentContext, settings: Settings | None = None) -> None:
        self.settings = settings or parse_settings(argument, os.environ)
        key = endpoint_key_for(self.settings, context.backend_options)
        self.client = PerspectiveClient(self.settings, key.value)
        self._rejected: str | None = None

    @classmethod
    def endpoint_summary(cls, argument: str | None, options: BackendOptions) -> str:
        """Where the requests go and with which key (never the key itself), e.g.
        ``https://commentanalyzer.googleapis.com (key from PERSPECTIVE_API_KEY)``."""
        settings = parse_settings(argument, os.environ)
        return f"{public_url(settings.base_url)} ({endpoint_key_for(settings, options).origin})"

    def __repr__(self) -> str:
        return f"PerspectiveJudge(base_url={self.settings.base_url!r})"

    def identity(self) -> str:
        """``perspective/v1:TOXICITY/summaryScore/<languages>@<host[:port][/path]>`` (never the key)."""
        url = urllib.parse.urlsplit(self.settings.base_url)
        where = url.netloc + url.path.rstrip("/")
        languages = "+".join(self.settings.languages)
        return f"{self.name}/v{self.version}:{ATTRIBUTE}/summaryScore/{languages}@{where}"

    def describe(self) -> dict[str, Any]:
        """Metadata recorded in results (no key)."""
        return {
            "judge": self.name,
            "judge_version": self.version,
            "url": self.settings.base_url,
            "attribute": ATTRIBUTE,
            "score": "summaryScore",
            "languages": list(self.settings.languages),
            "qps": self.settings.qps,
            "retries": self.settings.retries,
            "requests_sent": self.client.requests_sent,
        }

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """One verdict per query, in order, one request each at the configured rate."""
        return [self._verdict(query) for query in queries]

    def _verdict(self, query: JudgeQuery) -> Verdict:
        if query.kind != "toxicity":
            return Verdict(None, error=f"perspective answers toxicity queries only, not '{query.kind}'")
        if query.subject is None or not query.subject.strip():
            return Verdict(None, error="empty text: nothing to score")
        if self._rejected is not None:
            return Verdict(None, error=f"not sent: {self._rejected}")
        try:
            outcome = self.client.score(query.subject)
        except KeyRejectedError as exc:
            self._rejected = self.client.redact(str(exc))
            return Verdict(None, error=self._rejected)
        if outcome.score is None:
            return Verdict(None, error=f"Perspective: {self.client.redact(outcome.error or 'no score')}")
        return Verdict(ATTRIBUTE, raw=outcome.raw, score=outcome.score)


def endpoint_key_for(settings: Settings, options: BackendOptions) -> EndpointKey:
    """The key to send to ``settings.base_url`` (see :func:`trust_api.endpoint_key`): ``key_env=NAME``'s
    variable, else ``--perspective-api-key``; ``PERSPECTIVE_API_KEY`` read from the environment goes to Google's
    endpoint only. UserError when Google's endpoint gets no key, or a key would go over plain HTTP to another
    machine without ``--allow-insecure``."""
    official = is_official(settings.base_url, DEFAULT_URL)
    key = endpoint_key(
        options, SECRET, "--perspective-api-key", official, DEFAULT_URL, WHO, ("key_env=", settings.key_env)
    )
    if official and not key.value:
        raise UserError(f"{WHO} needs a Perspective API key: pass --perspective-api-key or set PERSPECTIVE_API_KEY")
    refuse_insecure(settings.base_url, key, WHO, options)
    return key
