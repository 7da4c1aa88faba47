# live_upgrade.cmake - a filter upgrade under a running bridge: live alerts vs an offline replay.
# Needs root, /dev/net/tun and the lab tools; skips (77) otherwise. About 60 s.
tt_add_script_test(test_live_upgrade test_live_upgrade.sh LABELS netns live)
