"""Assertions on what an exercise check prints and returns, shared by the exercise tests."""


def _feedback(capsys, check, answer):
    result = check(answer)
    return result, capsys.readouterr().out


def assert_correct(capsys, check, answer):
    result, out = _feedback(capsys, check, answer)
    assert result is True, out
    assert out.startswith("Correct!"), out


def assert_hint(capsys, check, answer, expected):
    result, out = _feedback(capsys, check, answer)
    assert result is False, out
    assert out.startswith("Not quite."), out
    assert expected.lower() in " ".join(out.split()).lower(), out


def assert_fill_in(capsys, check, answer):
    result, out = _feedback(capsys, check, answer)
    assert result is False, out
    assert out.startswith("Fill in your answer"), out
