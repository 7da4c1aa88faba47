#!/usr/bin/env python3
"""test_scenarios.py - every recorded filter-upgrade scenario in captures/:

1. verdict counts before and after the marker equal what the workload did
   (captures/expected/NAME.expect, derived from the client programs' results);
2. with the marker: exactly the expected alert kinds fire, dated at the marker,
   raised after it; none before it; none on the healthy scenarios;
3. without the marker: the same kinds are found, the estimated change time
   within 2 s of the true instant.
Each capture is checked in both its Ethernet and raw-IP forms.
"""
import json
import os
import subprocess
import sys

BIN = os.environ["TT_BIN"]
CAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "captures")

EXPECTED_ALERTS = {
    "healthy": set(),
    "noisy-healthy": set(),
    "udp-drop": {"udp_unanswered"},
    "udp-synack-drop": {"udp_unanswered", "tcp_syn_unanswered"},
    "reject": {"udp_unreachable", "tcp_syn_rejected"},
    "final-ack-drop": {"tcp_synack_unacked"},
    "udp-vanish": {"udp_vanished"},
}

# tunneltap verdict -> the .expect counter it must equal
UDP_MAP = {"answered": "udp_total.answered", "unanswered": "udp_total.unanswered",
           "icmp_unreachable": "udp_total.icmp_unreachable"}
TCP_MAP = {"completed": "tcp_total.established", "syn_unanswered": "tcp_total.syn_unanswered",
           "syn_rejected": "tcp_total.syn_rst", "synack_unacked": "tcp_total.synack_unacked"}

failures = 0
passes = 0


def check(ok, what):
    global failures, passes
    if ok:
        passes += 1
    else:
        failures += 1
        print("FAIL", what)


def load_expect(name):
    d = {}
    with open(os.path.join(CAP, "expected", name + ".expect")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            d[k] = v
    return d


def replay(path, *args):
    p = subprocess.run([BIN, "replay", path, "--quiet", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (path, p.returncode, p.stderr))
    return p.stdout


def counts(records, marker):
    c = {"before": {}, "after": {}}
    for r in records:
        side = "before" if r["ts"] < marker else "after"
        v = r["tt_verdict"]
        if r["proto"] == "udp" and r.get("orig_pkts", 0) > 0 and v in UDP_MAP:
            key = UDP_MAP[v]
        elif r["proto"] == "tcp" and r.get("history", "").startswith("S"):
            key = TCP_MAP["completed" if v in ("established", "closed", "reset") else v] \
                if v in ("established", "closed", "reset", "syn_unanswered", "syn_rejected",
                         "synack_unacked") else None
        else:
            key = None
        if key:
            c[side][key] = c[side].get(key, 0) + 1
    return c


def run_scenario(base, family):
    name = "%s-%s" % (base, family)
    exp = load_expect(name)
    with open(os.path.join(CAP, name + ".marker")) as f:
        when, _, label = f.read().strip().partition(" ")
    marker = float(when)
    for form in ("eth", "raw"):
        path = os.path.join(CAP, "%s-%s.pcap" % (name, form))
        tag = "%s/%s" % (name, form)
        recs = [json.loads(l) for l in replay(path, "--json", "-").splitlines()]
        got = counts(recs, marker)
        for side in ("before", "after"):
            for key in list(UDP_MAP.values()) + list(TCP_MAP.values()):
                want = int(exp.get("%s.%s" % (side, key), "0"))
                have = got[side].get(key, 0)
                check(have == want, "%s %s.%s: tunneltap %d, workload %d" % (tag, side, key, have, want))
        # with the marker
        alerts = [json.loads(l) for l in
                  replay(path, "--mark", "%s=%s" % (when, label), "--alerts", "-").splitlines()]
        regress = [a for a in alerts if not a["recovery"]]
        kinds = {a["kind"] for a in regress}
        check(kinds == EXPECTED_ALERTS[base],
              "%s with marker: alerts %s, expected %s" % (tag, sorted(kinds), sorted(EXPECTED_ALERTS[base])))
        for a in regress:
            check(abs(a["ts"] - marker) < 1e-3 and a["marker"] == label[:63],
                  "%s: %s dated %.6f, marker %.6f" % (tag, a["kind"], a["ts"], marker))
            check(a["raised_at"] >= marker, "%s: %s raised before the marker" % (tag, a["kind"]))
        # without the marker
        alerts = [json.loads(l) for l in replay(path, "--alerts", "-").splitlines()]
        regress = [a for a in alerts if not a["recovery"]]
        kinds = {a["kind"] for a in regress}
        check(kinds == EXPECTED_ALERTS[base],
              "%s without marker: alerts %s, expected %s" % (tag, sorted(kinds), sorted(EXPECTED_ALERTS[base])))
        for a in regress:
            check(abs(a["ts"] - marker) <= 2.0,
                  "%s without marker: %s change at %.2f s from the true instant" % (tag, a["kind"], a["ts"] - marker))
            check(a["marker"] is None, "%s: unmarked alert names a marker" % tag)
        print("ok   %s: counts and alerts (%s)" % (tag, ", ".join(sorted(kinds)) or "none"))


def main():
    scenarios = []
    for base in EXPECTED_ALERTS:
        for family in ("v4", "v6"):
            if os.path.exists(os.path.join(CAP, "%s-%s.marker" % (base, family))):
                scenarios.append((base, family))
    if not scenarios:
        print("SKIP: no recorded scenarios in captures/")
        return 77
    for base, family in scenarios:
        try:
            run_scenario(base, family)
        except (RuntimeError, OSError, ValueError) as e:
            check(False, "%s-%s: %s" % (base, family, e))
    print("%d passed, %d failed" % (passes, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
