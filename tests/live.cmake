# live.cmake - the live hosts: control socket (unit), bridge and live capture (root, namespaces).
tt_add_criterion(test_control
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_control.c
  LIBS tunneltap PkgConfig::JANSSON
  LABELS live)

# Both need root, /dev/net/tun (bridge) and the lab tools; they skip (77) otherwise.
# "netns" keeps them out of the sanitizer runs.
tt_add_script_test(test_bridge test_bridge.sh LABELS netns live)
tt_add_script_test(test_capture_live test_capture_live.sh LABELS netns live)
