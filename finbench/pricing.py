"""Estimated cost of API runs: a small price table (USD per 1M input / output tokens) for known API models.

The prices are OpenAI's published list prices for standard (non-batch, non-cached) requests, taken on
PRICES_TAKEN and not re-checked since: finbench machines cannot reach the pricing page. A model that is not in the
table gets the estimate "unknown", never a guess. Update the table and the date together.
"""

from __future__ import annotations

PRICES_TAKEN = "2025-06-01"

# model -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),  # the alias points at gpt-4o-2024-08-06 (on PRICES_TAKEN)
    "gpt-4o-2024-11-20": (2.50, 10.00),
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-mini-2024-07-18": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-2025-04-14": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-mini-2025-04-14": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-nano-2025-04-14": (0.10, 0.40),
    "gpt-3.5-turbo-0125": (0.50, 1.50),
}


def estimate_cost(model: str | None, prompt_tokens: int, completion_tokens: int) -> dict:
    """{"usd": float | "unknown", "model_priced": name, "prices_taken": date, "per_1m_tokens": [in, out]}."""
    price = PRICES.get(model or "")
    if price is None:
        return {
            "usd": "unknown",
            "model_priced": model,
            "prices_taken": PRICES_TAKEN,
            "reason": f"no price for {model!r} in finbench.pricing.PRICES",
        }
    usd = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
    return {"usd": round(usd, 6), "model_priced": model, "prices_taken": PRICES_TAKEN, "per_1m_tokens": list(price)}
