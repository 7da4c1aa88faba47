# dashboard - `tunneltap replay --dashboard` driven in a real terminal (tmux).
tt_add_script_test(test_dashboard test_dashboard.sh LABELS dashboard cli)
set_tests_properties(test_dashboard PROPERTIES TIMEOUT 180)
