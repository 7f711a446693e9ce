"""The one exception hierarchy of polyteam.

    PolyteamError
    ├── ConfigError                 a list of ConfigIssue, found before any LLM call (exit 2)
    ├── UsageError                  a bad option or argument, a folder with no ledger (exit 2)
    ├── ProviderError               llm, provider, base_url; never a key
    │   ├── AuthError               401/403, bad signature            not retried, fallback
    │   ├── RateLimitError          429, retry_after                  retried
    │   ├── QuotaExhaustedError     insufficient_quota, 1113, 11201   not retried, fallback
    │   ├── ContextTooLongError     prompt over the window            not retried, fallback
    │   ├── ContentFilteredError    provider's audit refused          not retried, fallback
    │   ├── BadRequestError         400/422                           not retried, fallback
    │   ├── ServerError             5xx, 529 overloaded               retried
    │   │   └── UnreadableReplyError  answered, but bad UTF-8 / usage  retried, billed
    │   └── TransportError          timeout, refused, dropped stream  retried
    ├── FallbackExhaustedError      every LLM of a chain failed; an ExceptionGroup of each error
    ├── BudgetExceededError         the next call could cross MAX_BUDGET (exit 3)
    ├── MalformedReplyError         a reply that no repair or re-ask made valid
    └── UnsafePathError             a file name from a model that leaves the project

Wrappers decide by class (`retryable`), never by message text or status code.
Messages never contain secrets: providers build them from status, error type and the
provider's own message, and `polyteam.redact` scrubs every string that leaves the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


class PolyteamError(Exception):
    """Base of every error polyteam raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One configuration problem, printed as one line: `file: key: problem; fix`."""

    file: str
    key: str
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.key}: {self.problem}" if self.key else f"{self.file}: {self.problem}"
        return f"{text}; {self.fix}" if self.fix else text


class ConfigError(PolyteamError):
    """Every configuration problem found in one pass."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(PolyteamError):
    """The command line was used wrongly: one line naming the command, the option and the fix.

    Kept apart from ConfigError: nothing in the configuration files is wrong.
    """

    def __init__(self, where: str, key: str, problem: str, fix: str = "") -> None:
        self.issue = ConfigIssue(where, key, problem, fix)
        super().__init__(str(self.issue))


class ProviderError(PolyteamError):
    """A call to one LLM endpoint failed."""

    retryable: ClassVar[bool] = False
    #: a short stable name recorded in the ledger (`error` field)
    kind: ClassVar[str] = "provider_error"
    #: the server answered (and so may bill the attempt) though the reply could not be used
    billed: ClassVar[bool] = False
    #: seconds the provider asked us to wait (Retry-After): rate limits and server errors carry it
    retry_after: float | None
    #: the provider's id of the failed request (its request-id header), for its support desk
    request_id: str | None = None

    def __init__(
        self,
        message: str,
        *,
        llm: str = "",
        provider: str = "",
        base_url: str = "",
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.retry_after = retry_after
        self.llm = llm
        self.provider = provider
        self.base_url = base_url
        self.status = status
        self.code = code
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.llm} ({self.provider} at {self.base_url})" if self.llm else self.base_url
        status = f" HTTP {self.status}" if self.status else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}: {type(self).__name__}{status}{code}: {self.message}"


class AuthError(ProviderError):
    kind = "auth"


class RateLimitError(ProviderError):
    retryable = True
    kind = "rate_limited"



class QuotaExhaustedError(ProviderError):
    kind = "quota_exhausted"


class ContextTooLongError(ProviderError):
    kind = "context_too_long"


class ContentFilteredError(ProviderError):
    kind = "content_filtered"


class BadRequestError(ProviderError):
    kind = "bad_request"


class ServerError(ProviderError):
    retryable = True
    kind = "server_error"


class UnreadableReplyError(ServerError):
    """The server answered, but its reply could not be read (bad UTF-8, malformed JSON or usage).

    Retried and fallen back from like any server error, but charged at its reservation: the
    provider bills what it sent.
    """

    billed = True
    kind = "unreadable_reply"



class TransportError(ProviderError):
    retryable = True
    kind = "transport"


def _all_failed(errors: Sequence[BaseException]) -> str:
    return "all LLMs failed: " + "; ".join(str(e) for e in errors)


class FallbackExhaustedError(ExceptionGroup, PolyteamError):
    """Every LLM in a route's chain failed; `errors` (and `exceptions`) hold each one in order.

    An ExceptionGroup, so `except* RateLimitError` sees the failures inside; `str()` is one line
    naming each failure (not the group's "(N sub-exceptions)").
    """

    errors: list[PolyteamError]

    def __new__(cls, errors: Sequence[PolyteamError]) -> FallbackExhaustedError:
        group = super().__new__(cls, _all_failed(errors), list(errors))
        group.errors = list(errors)
        return group

    def __init__(self, errors: Sequence[PolyteamError]) -> None:
        super().__init__(_all_failed(errors), list(errors))

    def __str__(self) -> str:
        return self.message

    def derive(self, excs: Sequence[PolyteamError]) -> FallbackExhaustedError:  # type: ignore[override]
        return FallbackExhaustedError(excs)


class BudgetExceededError(PolyteamError):
    """The next call could cross the budget; it was not made.

    `reserved_usd`/`in_flight`: the worst cases held by the attempts still in flight at the refusal;
    `reason`: why the cap is closed regardless of the amounts (an attempt cost more than its reservation).
    """

    def __init__(
        self,
        spent_usd: float,
        budget_usd: float,
        next_call_usd: float = 0.0,
        *,
        reserved_usd: float = 0.0,
        in_flight: int = 0,
        reason: str = "",
    ) -> None:
        self.spent_usd = spent_usd
        self.budget_usd = budget_usd
        self.next_call_usd = next_call_usd
        self.reserved_usd = reserved_usd
        self.in_flight = in_flight
        held = f", ${reserved_usd:.4f} reserved by {in_flight} call(s) in flight" if in_flight else ""
        why = f"; {reason}" if reason else f"; the next call could cost up to ${next_call_usd:.4f}"
        super().__init__(f"budget ${budget_usd:.4f} reached: spent ${spent_usd:.4f}{held}{why}")


class MalformedReplyError(PolyteamError):
    """A reply that neither repair nor a re-ask turned into valid output."""


class UnsafePathError(PolyteamError):
    """A file name from a model that would leave the project folder."""
