"""cv_textbook.quiet: what it hides, and that it hides nothing after its block."""

import logging

from cv_textbook.quiet import python_warnings_of


def test_python_warnings_of_hides_warnings_inside_only_and_restores_the_level(caplog):
    logger = logging.getLogger("cv_textbook_test_logger")
    logger.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="cv_textbook_test_logger"):
        with python_warnings_of("cv_textbook_test_logger"):
            logger.warning("retracing, inside")
            logger.error("an error, inside")
        logger.warning("retracing, after")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["an error, inside", "retracing, after"]
    assert logger.level == logging.INFO
