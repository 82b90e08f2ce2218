"""The local campaign: what a lone run asks the engine's campaign hooks (fuzzer/campaign.py)."""

from __future__ import annotations

import threading

import pytest

from fuzzer.campaign import Campaign, LocalCampaign


def test_local_campaign_hands_out_each_index_once_then_none():
    c = LocalCampaign(50)
    got: list[int] = []

    def take() -> None:
        while (i := c.next_index()) is not None:
            got.append(i)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(got) == list(range(50))
    assert c.next_index() is None


def test_local_campaign_owns_every_signature_and_shares_nothing():
    c = LocalCampaign(0)
    assert isinstance(c, Campaign)
    assert c.next_index() is None
    assert c.claim("blackmail/x") is None and c.claim("blackmail/x") is None
    c.found("blackmail/x", "abcdefabcdef")
    assert c.known() == {} and c.database is None


def test_negative_budget_is_refused():
    with pytest.raises(ValueError, match="budget"):
        LocalCampaign(-1)
