"""Which ERROR records of a fault test's server log are the suite's (a fault test fails on those): by logger and
traceback, never by the database's name, which starts with distribution_ in `make test`."""

from .fault_harness import ours

HEAD = "2026-12-07 22:18:45,055 21940 ERROR distribution_test_1_main_channel_2 "


def test_odoo_job_meeting_a_concurrent_update_is_not_ours():
    record = (
        HEAD + "odoo.addons.base.models.ir_cron: Job 'Procurement: run scheduler' (21) server action #314 failed\n"
        'Traceback (most recent call last):\n  File "/opt/odoo/addons/stock/models/stock_rule.py", line 753\n'
        "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update"
    )
    assert not ours(record)


def test_a_failed_job_with_the_suite_in_its_traceback_is_ours():
    record = (
        HEAD + "odoo.addons.base.models.ir_cron: Job 'Distribution: recompute dispatch scores' (29) failed\n"
        'Traceback (most recent call last):\n  File "/work/main/distribution_orchestration/models/stock_picking.py",'
        " line 96, in _cron_recompute_dispatch_scores\n"
        "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update"
    )
    assert ours(record)
    assert ours(HEAD + "odoo.addons.distribution_observability.models.distribution_alert_rule: cannot notify")


def test_failed_statements_on_the_suite_tables():
    conflict = (
        HEAD + "odoo.sql_db: bad query: b' UPDATE \"distribution_exception\" SET ...'\nERROR: could not serialize"
    )
    conflict += " access due to concurrent update"
    assert not ours(conflict), "a conflict its caller retries"
    broken = HEAD + 'odoo.sql_db: bad query: b\' SELECT "distribution_exception"."nope"\'\nERROR: column does not exist'
    assert ours(broken)
    assert not ours(HEAD + "odoo.sql_db: bad query: b' UPDATE \"stock_move\" SET ...'\nERROR: column does not exist")
