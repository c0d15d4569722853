"""mixfit.config: the debug and kernel settings, by block and by thread, never by environment."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest

import mixfit as mf
from mixfit.config import config_context, get_config, set_config
from mixfit.search import em_settings
from mixfit.sources.memory import in_context, thread_pool


def test_a_block_changes_the_settings_and_restores_them():
    before = get_config()
    with config_context(debug=not before.debug, kernel="numpy") as inside:
        assert inside.debug is not before.debug and inside.kernel == "numpy"
        assert get_config() == inside
    assert get_config() == before


def test_set_config_lasts_in_its_context_only():
    def change() -> bool:
        set_config(debug=False)
        return get_config().debug

    with config_context(debug=True):
        assert contextvars.copy_context().run(change) is False
        assert get_config().debug is True  # the copy changed, this context did not


def test_worker_threads_see_the_callers_settings_plain_threads_do_not():
    with config_context(kernel="numpy"):
        assert thread_pool().submit(in_context(lambda _: get_config().kernel), None).result() == "numpy"
        with ThreadPoolExecutor(1) as bare:  # a thread mixfit did not start reads the defaults
            assert bare.submit(lambda: contextvars.Context().run(get_config)).result().kernel in ("numba", "numpy")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"kernel": "fortran"}, "kernel must be one of"), ({"debug": 1}, "debug must be True or False")],
)
def test_bad_settings_are_refused(options, message):
    with pytest.raises(mf.ModelError, match=message):
        set_config(**options)
    with pytest.raises(mf.ModelError, match=message), config_context(**options):
        pass


def test_a_fit_takes_the_debug_setting_in_force_when_it_starts():
    model = mf.Mixture(mf.Bernoulli(), 2)
    with config_context(debug=True):
        assert em_settings(model).debug is True
    with config_context(debug=False):
        assert em_settings(model).debug is False


def test_joblib_workers_run_with_the_callers_settings():
    from mixfit.parallel import map_jobs

    with config_context(kernel="numpy", debug=True):
        seen = map_jobs(lambda i: (i, get_config().kernel, get_config().debug), [(0,), (1,)], n_jobs=2)
    assert seen == [(0, "numpy", True), (1, "numpy", True)]
