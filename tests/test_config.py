"""Budgets: one rule for smoke mode, the caller's numbers otherwise."""

import pytest

from cv_textbook import config


def test_classroom_budget_is_what_the_caller_asked_for(monkeypatch):
    monkeypatch.delenv(config.SMOKE_ENV, raising=False)
    budget = config.budget(12, train_examples=1000)
    assert (budget.epochs, budget.train_examples, budget.test_examples, budget.smoke) == (12, 1000, None, False)
    assert "classroom budget: 12 epoch(s)" in budget.describe()


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_smoke_budget_overrides_every_caller(monkeypatch, value):
    monkeypatch.setenv(config.SMOKE_ENV, value)
    budget = config.budget(50, train_examples=None)
    assert budget.smoke and budget.epochs == 1
    assert budget.train_examples == config.SMOKE_TRAIN_EXAMPLES
    assert budget.test_examples == config.SMOKE_TEST_EXAMPLES


def test_smoke_mode_is_off_for_zero(monkeypatch):
    monkeypatch.setenv(config.SMOKE_ENV, "0")
    assert not config.is_smoke()


def test_budget_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        config.budget(0)


def test_full_budget_applies_only_where_a_chapter_has_one(monkeypatch):
    monkeypatch.delenv(config.SMOKE_ENV, raising=False)
    monkeypatch.setenv(config.FULL_ENV, "1")
    full = config.budget(10, train_examples=5000, full_epochs=160)
    assert (full.epochs, full.train_examples, full.mode) == (160, None, "full")
    assert config.budget(10).mode == "classroom"
    monkeypatch.setenv(config.SMOKE_ENV, "1")  # smoke wins: the tests stay fast
    assert config.budget(10, full_epochs=160).mode == "smoke"
