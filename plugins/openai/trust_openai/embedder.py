"""The ``openai`` embedder: the embeddings endpoint of OpenAI or any OpenAI-compatible server.

``--embedder openai`` (model text-embedding-3-small) or ``--embedder openai:MODEL``; the ORNL workflow's
``--embed_choice 0``. Texts go in batches of 64; each batch is retried like a chat request. The core caches
vectors by text hash and :meth:`identity`, so a text is embedded once per model and endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trust_api import ApiSettings, api_settings, call_with_retries
from trust_core.plugin import BackendOptions, ComponentContext, Embedder, UserError
from trust_openai.backend import OPENAI, make_openai_client
from trust_openai.errors import MalformedReplyError, classify

DEFAULT_MODEL = "text-embedding-3-small"
BATCH_SIZE = 64


class OpenAIEmbedder(Embedder):
    """Vectors from ``/embeddings``; ``--base-url`` (or ``OPENAI_BASE_URL``) for another server, with the key from
    ``--openai-api-key`` or ``--api-key-env NAME`` (``OPENAI_API_KEY`` goes to OpenAI's endpoint only)."""

    name = "openai"
    version = "1"
    description = "embeddings via the OpenAI API or any OpenAI-compatible server (--embedder openai:MODEL)"
    needs_key = OPENAI.secret
    key_env_var = OPENAI.key_env

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        self.model = argument or DEFAULT_MODEL
        self.settings: ApiSettings = api_settings(OPENAI, context.backend_options, f"--embedder openai:{self.model}")
        self._client: Any = None

    @classmethod
    def endpoint_summary(cls, argument: str | None, options: BackendOptions) -> str:
        """Where the embedding requests go (``--base-url``'s endpoint) and with which key, never the key itself."""
        return api_settings(OPENAI, options, f"--embedder openai:{argument or DEFAULT_MODEL}").summary()

    def identity(self) -> str:
        """``openai/v1:<endpoint>/<model>``."""
        return f"{self.name}/v{self.version}:{self.settings.endpoint}/{self.model}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; UserError (exit 2) with the reason when a batch keeps failing."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors.extend(self._batch(list(texts[start : start + BATCH_SIZE])))
        return vectors

    def _batch(self, texts: list[str]) -> list[list[float]]:
        if self._client is None:
            self._client = make_openai_client(self.settings)
        client = self._client

        def call() -> list[list[float]]:
            reply = client.embeddings.create(model=self.model, input=texts, timeout=self.settings.timeout)
            return _vectors(reply, len(texts))

        secrets = (self.settings.api_key,)
        outcome = call_with_retries(call, lambda exc: classify(exc, secrets), self.settings.policy())
        if outcome.value is None:
            raise UserError(f"--embedder openai:{self.model}: {outcome.error} (responses stay stored; run again)")
        return outcome.value


def _vectors(reply: Any, expected: int) -> list[list[float]]:
    data = sorted(getattr(reply, "data", None) or [], key=lambda item: getattr(item, "index", 0))
    if len(data) != expected:
        raise MalformedReplyError(f"{len(data)} embeddings for {expected} texts")
    vectors = [getattr(item, "embedding", None) for item in data]
    if not all(isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v) for v in vectors):
        raise MalformedReplyError("an embedding is not a list of numbers")
    return [[float(x) for x in v] for v in vectors]
