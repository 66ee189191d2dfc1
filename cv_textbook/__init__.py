"""cv-textbook: the shared package behind the chapter notebooks.

Import what you need from its modules (``cv_textbook.data``, ``cv_textbook.models``,
``cv_textbook.train``, ``cv_textbook.analysis``, ``cv_textbook.viz``); importing the
package itself does no work and loads no framework.
"""

__version__ = "0.1.0"
