# Recorded filter-upgrade scenarios (captures/): verdict counts and alerts.
tt_add_script_test(test_scenarios test_scenarios.sh LABELS captures)
