"""How the suite is shared out among pytest-xdist workers (``-n auto --dist loadfile``).

A worker runs whole modules, each module's tests in their order: many modules share
a module-scoped federation or served node and build on what earlier tests left in it,
so a module split over two workers would fail there (and set its nodes up twice).
Modules are handed out in collection order (``--no-loadscope-reorder``), so that the
long integration modules start early and the many small protocol modules even out the
end. Two exceptions, named here because the scheduler sees test ids only:

* :data:`SPREAD`: modules whose tests each run a federation of their own and take
  minutes; any worker may take any one of them;
* :data:`BESIDE`: a module that must run on the same worker as another, after it,
  because both read a session fixture that the first one changes.

:class:`ModuleScheduling` is pytest-xdist's file scheduling with these two rules; the
``pytest_xdist_make_scheduler`` hook in ``tests/conftest.py`` puts it in place of
``--dist loadfile`` (any other ``--dist`` is left as asked).
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

__all__ = ["BESIDE", "SPREAD", "ModuleScheduling"]

#: Modules of independent, long tests: each test is a unit of work of its own.
SPREAD = frozenset({"tests/integration/test_faults.py"})

#: module -> the module whose worker runs it too (after it): the demo run
#: (``tests/integration/conftest.py``) is made once, test_demo starts it again on the
#: same folder, then test_logs_hygiene reads every log it wrote.
BESIDE = {"tests/integration/test_logs_hygiene.py": "tests/integration/test_demo.py"}


class ModuleScheduling(LoadScopeScheduling):
    """Units of work: a module (with :data:`BESIDE`), or a test of a :data:`SPREAD` module."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        if module in SPREAD:
            return nodeid
        return BESIDE.get(module, module)
