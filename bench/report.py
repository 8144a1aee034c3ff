#!/usr/bin/env python3
"""report.py - assembles bench/run's figures: one JSON file, one table.

Reads WORK/run.json, WORK/ceilings.json and WORK/scn-*.json, adds the
machine and the versions, computes the ratios the targets of
docs/performance.md are stated in, prints the table and writes --out.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import time


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=10).stdout.strip().splitlines()[0]
    except Exception:  # a missing tool is recorded as unknown
        return "unknown"


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {"cpu": model, "cpus": os.cpu_count(), "mem_mib": mem,
            "kernel": platform.release(), "os": sh("sh", "-c",
                                                   ". /etc/os-release && echo $PRETTY_NAME")}


def versions(builddir):
    return {"codeqd": sh(os.path.join(builddir, "codeqd"), "--version"),
            "redis-server": sh("redis-server", "--version"),
            "redis-benchmark": sh("redis-benchmark", "--version"),
            "wrk": sh("sh", "-c", "wrk -v 2>&1"),
            "cc": sh("sh", "-c", "cc --version")}


def lat(s, key, field="p99"):
    v = s.get("latency_ms", {}).get(key, {})
    return v.get(field) if v.get("count") else None


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--redis-host", default="127.0.0.1")
    ap.add_argument("--redis-port", default="6379")
    ap.add_argument("--out", required=True)
    ap.add_argument("--load-after", default="")
    a = ap.parse_args()

    run = json.load(open(os.path.join(a.work, "run.json")))
    ceil = json.load(open(os.path.join(a.work, "ceilings.json")))
    scn = {}
    for p in sorted(glob.glob(os.path.join(a.work, "scn-*.json"))):
        try:
            s = json.load(open(p))
        except ValueError:
            continue
        scn[s["scenario"]] = s

    cycle_ceiling = 1.0 / (1.0 / float(ceil["claim_rps"]) +
                           1.0 / float(ceil["complete_rps"]))
    batched_ceiling = 1.0 / (1.0 / float(ceil["claim16_tasks_per_s"]) +
                             1.0 / float(ceil["complete_rps"]))
    ratios = {"cycle_store_ceiling_per_s": round(cycle_ceiling, 1),
              "cycle_store_ceiling_claim16_per_s": round(batched_ceiling, 1)}
    if "cycle" in scn:
        ratios["cycle_vs_store"] = scn["cycle"]["per_second"] / cycle_ceiling
        ratios["cycle_vs_store_claim16"] = (scn["cycle"]["per_second"] /
                                            batched_ceiling)
    if "exec" in scn:
        ratios["exec_vs_spawn2"] = (scn["exec"]["per_second"] /
                                    ceil["spawn_2"]["per_second"])
        # The same ceiling measured right before and after the exec
        # scenario (same load): the ratio the target is judged on.
        around = []
        for name in ("spawn-before.json", "spawn-after.json"):
            try:
                around.append(json.load(open(os.path.join(a.work, name))))
            except (OSError, ValueError):
                pass
        if around:
            r = sum(x["per_second"] for x in around) / len(around)
            ceil["spawn_2_around_exec"] = around
            ratios["spawn_2_around_exec_per_s"] = round(r, 1)
            ratios["exec_vs_spawn2_around"] = scn["exec"]["per_second"] / r
    if "callbacks" in scn and float(ceil.get("wrk_rps") or 0) > 0:
        cb = scn["callbacks"]
        ratios["callback_events_vs_wrk"] = (cb.get("events_per_s", 0) /
                                            float(ceil["wrk_rps"]))
        ratios["callback_requests_vs_wrk"] = (cb.get("requests_per_s", 0) /
                                              float(ceil["wrk_rps"]))
    if "workavail" in scn and float(ceil.get("wrk_rps") or 0) > 0:
        wa = scn["workavail"]
        ratios["workavail_events_vs_wrk"] = (wa.get("events_per_s", 0) /
                                             float(ceil["wrk_rps"]))
        ratios["workavail_requests_vs_wrk"] = (wa.get("requests_per_s", 0) /
                                               float(ceil["wrk_rps"]))
    if "workavail1" in scn and float(ceil.get("wrk_rps") or 0) > 0:
        ratios["workavail_unbatched_requests_vs_wrk"] = (
            scn["workavail1"].get("requests_per_s", 0) /
            float(ceil["wrk_rps"]))
    if "workavail" in scn and scn["workavail"].get("kept_up") is not None:
        # Delivered / offered events while producing: the notifier's own
        # share, whatever rate the producer reached on this machine.
        ratios["workavail_kept_up"] = scn["workavail"]["kept_up"]
    for mine, theirs in (("drain", "bullmq-drain"), ("bulk", "bullmq-bulk")):
        a_, b_ = scn.get(mine), scn.get(theirs)
        if a_ and b_ and not a_.get("failed") and not b_.get("failed") and \
                b_.get("per_second"):
            ratios[f"{mine}_vs_bullmq"] = a_["per_second"] / b_["per_second"]
    kinds = {s["store"]["kind"] for s in scn.values() if "store" in s}
    print(f"\nthe store's work per task ({', '.join(sorted(kinds))}; "
          "its own accounting, the whole scenario):")
    for k, s in scn.items():
        st = s.get("store")
        if not st or "calls_per_task" not in st:
            continue
        top = sorted(st["calls"].items(), key=lambda x: -x[1])[:4]
        print(f"  {k:<11} "
              + (f"{fmt(st['cpu_us_per_task'], 1)} us CPU, "
                 if "cpu_us_per_task" in st else "")
              + f"{fmt(st['calls_per_task'], 2)} commands counted, "
              f"{fmt(st['script_calls_per_task'], 2)} of them script calls: "
              + ", ".join(f"{c} {v}" for c, v in top))
    peers = [k for k, s in scn.items() if s.get("peer")]
    if peers:
        print("\nagainst BullMQ (same store, same run; one Node.js process, "
              "concurrency 50; codeqd: 2 workers, prefetch 16):")
        for mine in ("drain", "bulk"):
            a_, b_ = scn.get(mine, {}), scn.get("bullmq-" + mine, {})
            if not b_:
                continue
            if b_.get("failed"):
                print(f"  {mine:<6} BullMQ failed on this store: "
                      f"{b_.get('error') or 'see bullmq-' + mine + '.log'}")
                continue
            cpu = lambda s: s.get("store", {}).get("cpu_us_per_task")
            print(f"  {mine:<6} codeq {fmt(a_.get('per_second'))}/s, BullMQ "
                  f"{fmt(b_.get('per_second'))}/s: "
                  f"{fmt(ratios.get(mine + '_vs_bullmq'), 2)}x; store CPU "
                  f"per task {fmt(cpu(a_), 1)} vs {fmt(cpu(b_), 1)} us")
    if "prefill" in scn:
        d = scn["prefill"].get("claim_at_depth", {})
        keys = sorted(d, key=int)
        if len(keys) >= 2 and d[keys[0]].get("count"):
            ratios["claim_p99_deepest_vs_1k"] = (d[keys[-1]]["p99"] /
                                                 d[keys[0]]["p99"])
            ratios["claim_depths"] = keys
    # codeq-bench tells workers from codeq-webhooks children by program
    # name; a codeqd without codeq-webhooks runs them as plain children,
    # so those scenarios are left out then.
    wr = [s["summary"]["worker_peak_rss_kib"] for k, s in scn.items()
          if "summary" in s and ("webhooks_peak_rss_kib" in s["summary"] or
                                 k not in ("callbacks", "workavail", "workavail1"))]
    cr = [s["summary"]["codeqd_peak_rss_kib"] for s in scn.values()
          if "summary" in s]
    ratios["worker_peak_rss_kib_max"] = max(wr) if wr else None
    ratios["codeqd_peak_rss_kib_max"] = max(cr) if cr else None
    if "prefill" in scn:
        # From one second after a process was first seen (its start-up
        # done) to the end of the drain.
        g = [p["rss_last_kib"] - p.get("rss_1s_kib", p["rss_first_kib"])
             for p in scn["prefill"].get("processes", [])
             if p.get("rss_1s_kib", 1) > 0]
        ratios["prefill_drain_rss_growth_kib_max"] = max(g) if g else None

    result = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "mode": run.get("mode"), "machine": machine(),
              "versions": versions(a.builddir),
              "load_before": run.get("load_before"),
              "load_after": a.load_after, "ceilings": ceil,
              "ratios": ratios, "scenarios": scn}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    m = result["machine"]
    print(f"\ncodeq benchmark ({run.get('mode')}) on {m['cpu']}, "
          f"{m['cpus']} CPUs; load {run.get('load_before')} -> {a.load_after}")
    print("\nceilings (same run):")
    print(f"  claim script   {fmt(float(ceil['claim_rps']))} calls/s "
          f"(x16: {fmt(float(ceil['claim16_tasks_per_s']))} tasks/s)")
    print(f"  complete script {fmt(float(ceil['complete_rps']))} calls/s "
          f"(codeq-evalsha-rate; claim there: "
          f"{fmt(ceil['claim_evalsha_rate']['per_second'])} calls/s)")
    print(f"  one cycle       {fmt(cycle_ceiling)} /s "
          f"(claim x16: {fmt(batched_ceiling)} /s)")
    print(f"  fork+exec       {fmt(ceil['spawn_1']['per_second'])} /s "
          f"(1 proc), {fmt(ceil['spawn_2']['per_second'])} /s (2 procs)"
          + (f"; {fmt(ratios['spawn_2_around_exec_per_s'])} /s (2 procs) "
             "around the exec scenario" if "spawn_2_around_exec_per_s" in
             ratios else ""))
    print(f"  wrk on sink     {fmt(float(ceil.get('wrk_rps') or 0))} req/s")
    hdr = (f"\n{'scenario':<11}{'tasks':>9}{'/s':>10}{'err':>5}"
           f"{'enq p50/p99 ms':>17}{'claim p50/p99':>15}"
           f"{'e2e p50/p99/max ms':>22}{'codeqd':>12}{'worker':>12}")
    print(hdr)
    print(f"{'':<11}{'':>9}{'':>10}{'':>5}{'':>17}{'':>15}{'':>22}"
          f"{'RSS KiB/cpu s':>12}{'maxRSS/cpu':>12}")
    for k, s in scn.items():
        if s.get("failed"):
            print(f"{k:<11} FAILED")
            continue
        if s.get("peer"):
            continue
        enq = "enqueue" if lat(s, "enqueue") is not None else "enqueue_batch100"
        e2e = "lateness" if k == "delayed" else "enqueue_to_start"
        sm = s["summary"]
        print(f"{k:<11}{s['completed']:>9}{fmt(s['per_second']):>10}"
              f"{s['errors']:>5}"
              f"{fmt(lat(s, enq, 'p50'), 2) + '/' + fmt(lat(s, enq), 2):>17}"
              f"{fmt(lat(s, 'claim', 'p50'), 2) + '/' + fmt(lat(s, 'claim'), 2):>15}"
              f"{fmt(lat(s, e2e, 'p50'), 1) + '/' + fmt(lat(s, e2e), 1) + '/' + fmt(lat(s, e2e, 'max'), 0):>22}"
              f"{str(sm['codeqd_peak_rss_kib']) + '/' + fmt(sm['codeqd_cpu_s'], 1):>12}"
              f"{str(sm['worker_peak_rss_kib']) + '/' + fmt(sm['children_cpu_s'], 1):>12}")
    if "prefill" in scn:
        d = scn["prefill"].get("claim_at_depth", {})
        print("\nclaim latency by depth: " + ", ".join(
            f"{k}: p50 {fmt(v.get('p50'), 3)} p99 {fmt(v.get('p99'), 3)} ms"
            for k, v in sorted(d.items(), key=lambda x: int(x[0]))))
    if "priorities" in scn:
        p = scn["priorities"]
        print(f"priorities: {p.get('claim_order_inversions')} claim-order "
              f"inversions in {p['completed']} tasks")
    if "callbacks" in scn:
        c = scn["callbacks"]
        print(f"callbacks: {fmt(c.get('events_per_s'))} events/s in "
              f"{fmt(c.get('requests_per_s'))} requests/s "
              f"({fmt(c.get('events_per_request'))} per POST)"
              + (f"; store {fmt(c['store_cpu_us_per_event'], 2)} us of CPU "
                 f"per event, busy {fmt(c.get('store_busy'), 2)}"
                 if c.get("store_cpu_us_per_event") is not None else ""))
    if "workavail" in scn:
        c = scn["workavail"]
        ps = c.get("per_subscriber", {})
        print(f"WORK_AVAILABLE: {fmt(c.get('events_per_s'))} events/s in "
              f"{fmt(c.get('requests_per_s'))} requests/s "
              f"({fmt(c.get('events_per_request'))} per POST) to "
              f"{c.get('subscribers')} subscribers; {c.get('enqueued')} "
              f"enqueues ({fmt(c.get('enqueues_per_s'))}/s) over "
              f"{c.get('queues')} queues")
        print(f"  while producing: {fmt(c.get('steady_events_per_s'))} "
              f"events/s of {fmt(c.get('offered_events_per_s'))} offered "
              f"(kept_up {fmt(c.get('kept_up'), 2)}), "
              f"{fmt(c.get('steady_requests_per_subscriber_per_s'), 1)} "
              f"POSTs/s per subscriber (at most 20, one per window); per subscriber "
              f"{ps.get('events_min')}-{ps.get('events_max')} events in "
              f"{ps.get('requests_min')}-{ps.get('requests_max')} POSTs")
    if "workavail1" in scn:
        c = scn["workavail1"]
        print(f"WORK_AVAILABLE unbatched (one queue per subscriber): "
              f"{fmt(c.get('requests_per_s'))} requests/s with "
              f"{fmt(c.get('events_per_request'))} events per POST to "
              f"{c.get('subscribers')} subscribers; while producing "
              f"{fmt(c.get('steady_requests_per_s'))} requests/s "
              f"(kept_up {fmt(c.get('kept_up'), 2)})")
    print("\nratios (targets): " + ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in ratios.items()))
    print(f"\nJSON: {a.out}")


if __name__ == "__main__":
    main()
