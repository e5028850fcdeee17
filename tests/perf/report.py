#!/usr/bin/env python3
"""Turns the runs of tests/perf/run into docs/performance.json and docs/PERFORMANCE.md, and
prints the targets with their verdicts.

Scenarios measured this time replace the same scenarios of an existing performance.json;
the others are kept, each with the description of the run that measured it (date, commit,
settings), so one scenario can be rerun alone. Every target compares two measurements of
one scenario, hence of one run.
"""

import argparse
import json
import os
import statistics
import sys

FORMAT = "ferrogate-perf/1"
SCENARIO_ORDER = ["plain", "plain-h2load", "h2", "tls", "filters", "routes", "idle"]
LATENCY_PERCENTILES = ["p50_ms", "p90_ms", "p99_ms"]
LOAD_METRICS = ["rps", "avg_ms", *LATENCY_PERCENTILES, "max_ms", "cycle_ms", "turnaround_us",
                "cpu_us_per_request", "core_us_per_request",
                "user_us_per_request", "system_us_per_request", "minor_faults_per_request",
                "proxy_busy_pct", "proxy_core_busy_pct", "load_core_busy_pct",
                "foreign_proxy_core_pct", "foreign_load_core_pct",
                "load_cpu_wake_interrupts_per_request", "proxy_cpu_wake_interrupts_per_request"]
SIDE_BY_SIDE_METRICS = ["cpu_us_per_request", "baseline_cpu_us_per_request",
                        "user_us_per_request", "baseline_user_us_per_request",
                        "proxy_core_busy_pct"]
IDLE_METRICS = ["rss_bytes_per_connection", "rss_before_kb", "rss_after_kb", "opened",
                "still_open", "open_seconds", "oldest_idle_seconds"]
PROXY_NAMES = {"ferrogate": "Ferrogate", "nginx": "nginx", "haproxy": "HAProxy",
               "upstream": "upstream", "floor": "floor"}


def describe_scenario(name, s):
    """What a scenario runs, from the settings of the run that measured it."""
    conns = s.get("CONNECTIONS", "32")
    wrk = f"wrk -t1 -c{conns} -d{s.get('DURATION')} --latency, after a {s.get('WARMUP')} warm-up"
    return {
        "plain": f"HTTP/1.1 keep-alive to the proxy, {wrk}; 1 KiB responses from the upstream.",
        "plain-h2load": ("The plain scenario with another client: h2load --h1 -t1 "
                         f"-c{conns} -m1 -D {s.get('DURATION')} (HTTP/1.1 keep-alive, one "
                         "request at a time per connection, as wrk sends them), after a "
                         f"{s.get('WARMUP')} warm-up; latency from h2load's per-request "
                         "log. Each closed-loop client's own turnaround enters the latency "
                         "it measures (see cycle and turnaround below), so 1b sets this "
                         "client's p99 ratio beside wrk's."),
        "h2": ("HTTP/2 front: h2c with prior knowledge (cleartext; all three proxies support "
               f"it, TLS is measured on its own), h2load -t1 -c{s.get('H2_CONNECTIONS')} "
               f"-m{s.get('H2_STREAMS')} -D {s.get('DURATION')}; latency from h2load's "
               "per-request log. The proxies speak HTTP/1.1 keep-alive to the upstream."),
        "tls": ("HTTPS front: TLS 1.3 only, the same ECDSA P-256 certificate and key for all "
                f"three, HTTP/1.1 keep-alive (handshakes only at connection start), {wrk}."),
        "filters": ("The plain route with response-header filters: Ferrogate's HeaderFilter "
                    "plugin (WebAssembly) once and ten times in a Chain; nginx add_header and "
                    "HAProxy http-response add-header, as a reference, their plain routes "
                    "measured in the same repetitions. wrk as in plain. "
                    "A HeaderFilter with literal values declares its edit when it loads and "
                    "the gateway makes it with no plugin call; the one with an expression "
                    "value (${'1'}) is called on every request. Each of Ferrogate's filter "
                    "routes is also measured side by side with the plain route (2a and 2b "
                    "take their figures from those runs), and each of its runs alone has a "
                    "run of the plain route just before and just after it. A second "
                    "instance of the plain route is measured both ways too: the method's "
                    "zero."),
        "routes": (f"{s.get('ROUTES_FEW')} vs {s.get('ROUTES_MANY')} routes, each testing the "
                   "path for equality, the request taking the last one. Ferrogate: one route "
                   "file each, condition ${request.uri.path == '/pNNNNN'}, tried in name "
                   "order; HAProxy: use_backend ... if { path /pNNNNN }, tried in order; "
                   "nginx: location = /pNNNNN (exact matches: a tree lookup, not a scan). "
                   "wrk as in plain."),
        "idle": (f"{s.get('IDLE_CONNECTIONS')} HTTP/1.1 keep-alive connections opened "
                 f"{conns} at a time, one request each, then idle for {s.get('IDLE_HOLD')} s; "
                 "the proxy's RSS (VmRSS, nginx master + worker) before and after, divided by "
                 "the connections opened; then a second request on each connection tells "
                 "whether the proxy closed any meanwhile. Each repetition starts the proxy "
                 "afresh, warmed by a 1 s wrk run. Ferrogate closes HTTP/1.1 connections idle for "
                 "30 s (its limit for the next request head), so the RSS is read well before "
                 "the oldest connection reaches it."),
    }[name]


def label(target, settings):
    proxy, variant = target.split("-", 1)
    name = PROXY_NAMES[proxy]
    if proxy == "upstream":
        return "upstream direct (no proxy)"
    if proxy == "floor":
        if variant == "uring":
            return "floor over io_uring: the same minimal proxy (tests/perf/floor, perf-floor-uring)"
        return "floor: minimal tokio proxy (tests/perf/floor)"
    filters = {"ferrogate": "HeaderFilter", "nginx": "add_header", "haproxy": "add-header"}
    return {
        "proxy": name,
        "twin": f"{name}, the plain route again (a second instance)",
        "filter1": f"{name}, 1 {filters[proxy]}",
        "filter10": f"{name}, 10 {filters[proxy]}{'s' if proxy == 'ferrogate' else ''}",
        "called1": f"{name}, 1 {filters[proxy]} with an expression value (called)",
        "routes-few": f"{name}, {settings.get('ROUTES_FEW')} routes",
        "routes-many": f"{name}, {settings.get('ROUTES_MANY')} routes",
    }[variant]


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def group(meta, prefix):
    return {k[len(prefix):]: v for k, v in meta.items() if k.startswith(prefix)}


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": min(values),
            "max": max(values), "n": len(values)}


def build_scenario(name, runs, meta):
    settings = group(meta, "setting.")
    scenario = {
        "run": {"date": meta.get("date"), "commit": meta.get("version.ferrogate_commit"),
                "settings": settings},
        "description": describe_scenario(name, settings),
        "checks": group(meta, f"check.{name}."),
        "startup_seconds": {k: int(v) for k, v in group(meta, f"startup.{name}.").items()},
        "logs": {},
        "threads": group(meta, f"threads.{name}."),
        "targets": {},
    }
    for target, text in group(meta, f"log.{name}.").items():
        count, _, sample = text.partition(" ")
        scenario["logs"][target] = {"warnings_and_errors": int(count), "first": sample.strip()}
    for record in runs:
        if record.get("baseline"):
            side = scenario.setdefault("side_by_side", {}).setdefault(record["target"], {
                "label": label(record["target"], settings), "baseline": record["baseline"],
                "runs": []})
            side["runs"].append(record)
            continue
        if name == "idle" and record.get("open_seconds") is not None:
            # The first connection opened has been idle that long when the RSS is read.
            record["oldest_idle_seconds"] = round(record["open_seconds"] +
                                                  record["hold_seconds"], 1)
        target = scenario["targets"].setdefault(record["target"], {
            "label": label(record["target"], settings), "proxy": record["target"].split("-")[0],
            "runs": []})
        target["runs"].append(record)
    summarise(name, scenario)
    return scenario


def in_flight(settings, tool):
    """The requests the load generator keeps outstanding: one per connection for wrk, one
    per stream for h2load."""
    if tool == "h2load":
        return int(settings.get("H2_CONNECTIONS", 8)) * int(settings.get("H2_STREAMS", 4))
    return int(settings.get("CONNECTIONS", 32))


def add_cycle(record, settings):
    """A closed loop's cycle: how long each outstanding request takes, on average, from one
    request of its connection to the next (Little's law: outstanding / requests per second).
    The load generator's latency covers the part from its write to its read; the rest,
    `turnaround_us`, is the load generator's own, from a response read to the next request
    written, and grows with the batches its event loop takes at once."""
    if not record.get("rps") or record.get("avg_ms") is None:
        return
    cycle_ms = in_flight(settings, record.get("tool")) / record["rps"] * 1000
    record["cycle_ms"] = round(cycle_ms, 4)
    record["turnaround_us"] = round((cycle_ms - record["avg_ms"]) * 1000, 1)


def summarise(name, scenario):
    """Medians and spreads of each target's runs (again when re-rendering)."""
    metrics = IDLE_METRICS if name == "idle" else LOAD_METRICS
    for target in scenario["targets"].values():
        if name != "idle":
            for record in target["runs"]:
                add_cycle(record, scenario["run"]["settings"])
        target["summary"] = {m: summary([r.get(m) for r in target["runs"]]) for m in metrics}
        rs = target["runs"]
        if name == "idle":
            target["summary"]["closed_while_idle"] = sum(r.get("closed") or 0 for r in rs)
            target["summary"]["open_failures"] = sum(r.get("open_failures") or 0 for r in rs)
        else:
            target["summary"]["errors"] = sum(r["errors"] for r in rs)
            target["summary"]["redone"] = sum(r["redone"] for r in rs)
            target["summary"]["noisy_kept"] = sum(1 for r in rs if r["noisy"])
    for side in scenario.get("side_by_side", {}).values():
        rs = side["runs"]
        side["summary"] = {m: summary([r.get(m) for r in rs]) for m in SIDE_BY_SIDE_METRICS}
        side["summary"]["added_cpu_us_per_request"] = summary(added_cpu(rs))
        side["summary"]["errors"] = sum(r["errors"] for r in rs)
        side["summary"]["redone"] = sum(r["redone"] for r in rs)
        side["summary"]["noisy_kept"] = sum(1 for r in rs if r["noisy"])


def added_cpu(side_by_side_runs):
    """Each side-by-side run's CPU per request over its baseline's in the same seconds."""
    return [r["cpu_us_per_request"] - r["baseline_cpu_us_per_request"] for r in side_by_side_runs
            if r.get("cpu_us_per_request") is not None
            and r.get("baseline_cpu_us_per_request") is not None]


# ---- targets ----

def metric(scenarios, scenario, target, name):
    try:
        return scenarios[scenario]["targets"][target]["summary"][name]
    except (KeyError, TypeError):
        return None


def runs_of(scenarios, scenario, target):
    try:
        return scenarios[scenario]["targets"][target]["runs"]
    except (KeyError, TypeError):
        return []


def reference_beside(run, references, name):
    """The reference's figure at the moment `run` ran, from the reference's runs of the same
    repetition: the mean of the one just before and the one just after when both are there
    (a baseline measured on either side; a steady drift of the machine cancels), else the
    nearest. Runs recorded without their start time (before the harness kept it) pair with
    the repetition's last run of the reference, as they always did."""
    same = [r for r in references if r.get("rep") == run.get("rep") and r.get(name) is not None]
    if not same:
        return None
    if "started" not in run or any("started" not in r for r in same):
        return same[-1][name]
    before = [r for r in same if r["started"] < run["started"]]
    after = [r for r in same if r["started"] > run["started"]]
    beside = [max(before, key=lambda r: r["started"])] if before else []
    beside += [min(after, key=lambda r: r["started"])] if after else []
    return statistics.mean(r[name] for r in beside)


def paired(kind, mine, references, name, ref_name):
    """Ratio or difference of each of `mine`'s runs against the reference beside it in the
    same repetition; runs of a repetition the reference did not run are left out."""
    values = []
    for run in mine:
        a = run.get(name)
        if a is None or "rep" not in run:
            continue
        b = reference_beside(run, references, ref_name)
        if b is None:
            continue
        if kind == "ratio":
            if b:
                values.append(a / b)
        else:
            values.append(a - b)
    return values


def caveats(scenarios, scenario, targets):
    notes = []
    for target in targets:
        t = scenarios.get(scenario, {}).get("targets", {}).get(target)
        if t is not None:
            notes += measurement_caveats(t["label"], t["summary"], t["runs"])
    return notes


def measurement_caveats(who, s, runs):
    """What makes one target's runs (alone, or side by side with their baseline) less sure
    than their figures look."""
    notes = []
    if s.get("errors"):
        notes.append(f"{who}: {s['errors']} errors")
    if s.get("noisy_kept"):
        noisy = [r for r in runs if r["noisy"]]
        foreign = max(max(r["foreign_proxy_core_pct"], r["foreign_load_core_pct"])
                      for r in noisy)
        # Runs recorded before the harness kept the steal time lack it.
        steal = max(r.get("steal_pct") or 0 for r in noisy)
        notes.append(f"{who}: {s['noisy_kept']} noisy run(s) kept (other processes took "
                     f"up to {foreign:.0f}% of a CPU, the hypervisor stole up to "
                     f"{steal:.0f}%)")
    # A proxy CPU with idle time means the other CPU (load generator and upstream) limited
    # the rate; one busy with other processes is a noisy run, listed as such.
    core = s.get("proxy_core_busy_pct")
    if core and core["median"] < 90:
        notes.append(f"{who}: its CPU was idle {100 - core['median']:.0f}% of the time "
                     "(not the bottleneck)")
    if s.get("closed_while_idle"):
        notes.append(f"{who}: {s['closed_while_idle']} connections closed while idle")
    if s.get("open_failures"):
        notes.append(f"{who}: {s['open_failures']} connections failed to open")
    return notes


def compare(kind, a, b, limit, pairs=()):
    """Ratio (a/b) or difference (a-b) and a verdict. With pairs (the same figure within each
    repetition, from runs next to each other, see paired()): their median and min-max, which
    a drift of the machine from one repetition to the next does not move; the figure of the
    two medians is kept beside. Without: the medians', and the range the spreads allow."""
    if a is None or b is None:
        return None
    if kind == "ratio":
        if b["median"] == 0 or b["min"] == 0:
            return None
        of_medians = a["median"] / b["median"]
        low, high = a["min"] / b["max"], a["max"] / b["min"]
    else:
        of_medians = a["median"] - b["median"]
        low, high = a["min"] - b["max"], a["max"] - b["min"]
    value = of_medians
    if pairs:
        value = statistics.median(pairs)
        low, high = min(pairs), max(pairs)
    verdict = "PASS" if value <= limit else "FAIL"
    clear = high <= limit or low > limit
    return {"value": round(value, 3), "range": [round(low, 3), round(high, 3)],
            "paired": len(pairs), "of_medians": round(of_medians, 3),
            "verdict": verdict, "clear_of_spread": clear}


def compare_targets(kind, scenarios, scenario, mine, ref, name, limit, ref_name=None,
                    ref_scenario=None):
    """compare() of two targets' metric, paired by repetition when both are of one scenario
    (`name` for the first, `ref_name`, default the same, for the second)."""
    ref_name = ref_name or name
    ref_scenario = ref_scenario or scenario
    pairs = ()
    if ref_scenario == scenario:
        pairs = paired(kind, runs_of(scenarios, scenario, mine),
                       runs_of(scenarios, scenario, ref), name, ref_name)
    return compare(kind, metric(scenarios, scenario, mine, name),
                   metric(scenarios, ref_scenario, ref, ref_name), limit, pairs)


def target_entry(scenarios, ident, title, kind, limit, scenario, mine, ref, name, result):
    """A target's record: what it compares, and compare()'s result, or NOT MEASURED."""
    a = metric(scenarios, scenario, mine, name)
    b = metric(scenarios, scenario, ref, name)
    entry = {"id": ident, "title": title, "scenario": scenario, "metric": name,
             "kind": kind, "limit": limit, "target": mine, "reference": ref,
             "target_median": a and a["median"], "reference_median": b and b["median"]}
    entry.update(result or {"verdict": "NOT MEASURED"})
    return entry


def targets(scenarios):
    out = []

    def add(ident, title, kind, limit, scenario, mine, ref, name, beside=()):
        result = compare_targets(kind, scenarios, scenario, mine, ref, name, limit)
        entry = target_entry(scenarios, ident, title, kind, limit, scenario, mine, ref, name,
                             result)
        entry["beside"] = []
        # A beside entry compares the same metric unless it names its own for the first
        # target (the kernel's share of the floor against nginx's whole cost), or for both
        # (another percentile of the same latencies).
        for text, bs, bt, br, *own in beside:
            mine_metric = own[0] if own else name
            ref_metric = own[1] if len(own) > 1 else name
            r = compare_targets(kind, scenarios, bs, bt, br, mine_metric, limit,
                                ref_name=ref_metric)
            if r is not None:
                entry["beside"].append({"what": text, "value": r["value"]})
        entry["caveats"] = caveats(scenarios, scenario, [mine, ref])
        out.append(entry)

    cpu = "cpu_us_per_request"
    add("1a", "Plain proxy: CPU per request, Ferrogate / nginx", "ratio", 0.8,
        "plain", "ferrogate-proxy", "nginx-proxy", cpu,
        [("Ferrogate / HAProxy", "plain", "ferrogate-proxy", "haproxy-proxy"),
         ("floor / nginx", "plain", "floor-proxy", "nginx-proxy"),
         ("floor's system time alone / nginx", "plain", "floor-proxy", "nginx-proxy",
          "system_us_per_request"),
         ("floor over io_uring / nginx", "plain", "floor-uring", "nginx-proxy"),
         ("floor over io_uring, its system time alone / nginx", "plain", "floor-uring",
          "nginx-proxy", "system_us_per_request")])
    add("1b", "Plain proxy: p99 latency, Ferrogate / nginx", "ratio", 1.0,
        "plain", "ferrogate-proxy", "nginx-proxy", "p99_ms",
        [("Ferrogate / HAProxy", "plain", "ferrogate-proxy", "haproxy-proxy"),
         ("floor / nginx", "plain", "floor-proxy", "nginx-proxy"),
         # Where in the distribution the two part: the body of it or only its tail.
         ("p50, Ferrogate / nginx", "plain", "ferrogate-proxy", "nginx-proxy",
          "p50_ms", "p50_ms"),
         ("p90, Ferrogate / nginx", "plain", "ferrogate-proxy", "nginx-proxy",
          "p90_ms", "p90_ms"),
         # The whole cycle, of which wrk's latency leaves out its own turnaround.
         ("cycle, Ferrogate / nginx", "plain", "ferrogate-proxy", "nginx-proxy",
          "cycle_ms", "cycle_ms"),
         ("p99 with h2load --h1 as the client, Ferrogate / nginx", "plain-h2load",
          "ferrogate-proxy", "nginx-proxy")])
    out.append(filter_target(scenarios, "2a", "1 HeaderFilter: added CPU per request (us) "
                             "over the plain route", 1, 1.0))
    out.append(filter_target(scenarios, "2b", "Chain of 10 HeaderFilters: added CPU per "
                             "request (us) over the plain route", 10, 8.0))
    add("3", "Many routes / few routes: CPU per request", "ratio", 1.2,
        "routes", "ferrogate-routes-many", "ferrogate-routes-few", cpu,
        [("nginx", "routes", "nginx-routes-many", "nginx-routes-few"),
         ("HAProxy", "routes", "haproxy-routes-many", "haproxy-routes-few")])
    add("4a", "HTTP/2 front (h2c): CPU per request, Ferrogate / nginx", "ratio", 1.0,
        "h2", "ferrogate-proxy", "nginx-proxy", cpu,
        [("Ferrogate / HAProxy", "h2", "ferrogate-proxy", "haproxy-proxy")])
    add("4b", "TLS front: CPU per request, Ferrogate / nginx", "ratio", 1.0,
        "tls", "ferrogate-proxy", "nginx-proxy", cpu,
        [("Ferrogate / HAProxy", "tls", "ferrogate-proxy", "haproxy-proxy")])
    add("5", "Idle keep-alive connections: RSS per connection, Ferrogate / nginx", "ratio", 2.0,
        "idle", "ferrogate-proxy", "nginx-proxy", "rss_bytes_per_connection",
        [("Ferrogate / HAProxy", "idle", "ferrogate-proxy", "haproxy-proxy")])
    return out


def filter_target(scenarios, ident, title, count, limit):
    """Target 2a or 2b: the CPU per request that COUNT HeaderFilters add to the plain route.
    Taken from the side-by-side runs when the run measured them (older runs did not): the
    filter route's Ferrogate beside one serving the plain route, over the same seconds.
    Else, and beside them, from the runs alone. The references' cost of the same headers
    comes beside, and for 2a the same filter made to call its plugin."""
    cpu = "cpu_us_per_request"
    mine, ref = f"ferrogate-filter{count}", "ferrogate-proxy"
    alone = compare_targets("difference", scenarios, "filters", mine, ref, cpu, limit)
    side = compare_side_by_side(scenarios, "filters", mine, limit)
    entry = target_entry(scenarios, ident, title, "difference", limit, "filters", mine, ref,
                         cpu, side or alone)
    entry["caveats"] = caveats(scenarios, "filters", [mine, ref])
    entry["beside"] = []
    if side is None:
        entry["method"] = "one after the other"
    else:
        entry["method"] = "side by side"
        # The runs alone still give the figure beside the target: their caveats stay, marked.
        entry["caveats"] = (side_by_side_caveats(scenarios, "filters", mine)
                            + [f"runs alone: {note}" for note in entry["caveats"]])
        if alone is not None:
            entry["beside"].append({
                "what": "Ferrogate run alone, against the plain route's runs either side",
                "value": alone["value"]})
    # The references' own filter costs, against their plain route of the filters scenario
    # when it has one, else of the plain scenario (another moment of the run: indicative).
    for proxy in ("nginx", "haproxy"):
        where, ref_scenario = "filters scenario", "filters"
        if metric(scenarios, "filters", f"{proxy}-proxy", cpu) is None:
            where, ref_scenario = "plain scenario", "plain"
        r = compare_targets("difference", scenarios, "filters", f"{proxy}-filter{count}",
                            f"{proxy}-proxy", cpu, limit, ref_scenario=ref_scenario)
        if r is not None:
            entry["beside"].append({
                "what": f"{PROXY_NAMES[proxy]}: {count} header(s) - plain ({where})",
                "value": r["value"]})
    # The plain route's second instance measured the same way: what the method shows when
    # there is nothing to show.
    twin = "ferrogate-twin"
    zeros = [("one after the other",
              compare_targets("difference", scenarios, "filters", twin, ref, cpu, limit))]
    if side is not None:
        zeros.insert(0, ("side by side", compare_side_by_side(scenarios, "filters", twin, limit)))
    for method, zero in zeros:
        if zero is not None:
            entry["beside"].append({
                "what": f"the plain route against itself, {method} (the method's zero)",
                "value": zero["value"], "range": zero["range"]})
    if count == 1:
        # The same filter made to call its plugin: what a template value costs.
        r = (compare_side_by_side(scenarios, "filters", "ferrogate-called1", limit)
             or compare_targets("difference", scenarios, "filters", "ferrogate-called1",
                                ref, cpu, limit))
        if r is not None:
            entry["beside"].append({
                "what": "Ferrogate, the HeaderFilter called (an expression value) - plain",
                "value": r["value"]})
    return entry


def compare_side_by_side(scenarios, scenario, target, limit):
    """compare() of a target's side-by-side runs against the baseline beside each of them."""
    try:
        side = scenarios[scenario]["side_by_side"][target]
    except (KeyError, TypeError):
        return None
    pairs = added_cpu(side["runs"])
    if not pairs:
        return None
    s = side["summary"]
    result = compare("difference", s["cpu_us_per_request"], s["baseline_cpu_us_per_request"],
                     limit, pairs)
    result["target_median"] = s["cpu_us_per_request"]["median"]
    result["reference_median"] = s["baseline_cpu_us_per_request"]["median"]
    return result


def side_by_side_caveats(scenarios, scenario, target):
    side = scenarios[scenario]["side_by_side"][target]
    return measurement_caveats(f"{side['label']}, side by side", side["summary"], side["runs"])


# ---- markdown ----

def cell(s, fmt):
    if s is None:
        return "-"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt.format(s["median"])
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}–{fmt.format(s['max'])})"


def scenario_markdown(name, sc):
    run = sc["run"]
    st = run["settings"]
    each = "" if name == "idle" else f" of {st.get('DURATION')}"
    lines = [f"### {name}", "", sc["description"], "",
             f"Measured {run['date']}, commit {run['commit']}, {st.get('REPS')} "
             f"repetition(s){each}. Cells: median (min–max).", ""]
    if name == "idle":
        lines += ["| target | connections opened | RSS before (MiB) | RSS after (MiB) | "
                  "RSS per connection (bytes) | oldest idle at reading (s) | closed while idle "
                  "| open failures |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for t in sc["targets"].values():
            s = t["summary"]
            mib = {k: s[k] and {x: (s[k][x] / 1024 if x != "n" else s[k][x]) for x in s[k]}
                   for k in ("rss_before_kb", "rss_after_kb")}
            lines.append(f"| {t['label']} | {cell(s.get('opened'), '{:.0f}')} | "
                         f"{cell(mib.get('rss_before_kb'), '{:.1f}')} | "
                         f"{cell(mib.get('rss_after_kb'), '{:.1f}')} | "
                         f"{cell(s.get('rss_bytes_per_connection'), '{:.0f}')} | "
                         f"{cell(s.get('oldest_idle_seconds'), '{:.1f}')} | "
                         f"{s['closed_while_idle']} | {s['open_failures']} |")
    else:
        lines += ["| target | requests/s | avg latency (ms) | p99 latency (ms) | "
                  "proxy CPU (µs/request) | of which user / system | proxy core (µs/request) "
                  "| proxy busy (%) | errors | redone |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for t in sc["targets"].values():
            s = t["summary"]
            split = "-"
            if s.get("user_us_per_request") and s.get("system_us_per_request"):
                split = (f"{s['user_us_per_request']['median']:.2f} / "
                         f"{s['system_us_per_request']['median']:.2f}")
            lines.append(f"| {t['label']} | {cell(s.get('rps'), '{:.0f}')} | "
                         f"{cell(s.get('avg_ms'), '{:.3f}')} | {cell(s.get('p99_ms'), '{:.3f}')} | "
                         f"{cell(s.get('cpu_us_per_request'), '{:.2f}')} | {split} | "
                         f"{cell(s.get('core_us_per_request'), '{:.2f}')} | "
                         f"{cell(s.get('proxy_busy_pct'), '{:.0f}')} | {s['errors']} | "
                         f"{s['redone']} |")
    lines.append("")
    if sc.get("side_by_side"):
        lines += side_by_side_markdown(sc)
    if name != "idle":
        lines += latency_markdown(sc)
    notes = []
    for target, text in sc.get("checks", {}).items():
        notes.append(f"- check, {target}: {text}")
    for target, secs in sc.get("startup_seconds", {}).items():
        if secs >= 2:
            notes.append(f"- {target} took {secs} s to start listening")
    for target, text in sc.get("threads", {}).items():
        notes.append(f"- threads of {target} after the runs: {text}")
    for target, log in sc.get("logs", {}).items():
        if log["warnings_and_errors"]:
            notes.append(f"- {target} logged {log['warnings_and_errors']} warning/error "
                         f"line(s), first: `{log['first'][:300]}`")
    return lines + notes + [""]


def side_by_side_markdown(sc):
    """The runs 2a and 2b take their figures from: each target and its baseline loaded at
    the same moment on the proxy's CPU."""
    lines = ["Side by side (targets 2a and 2b): each of these Ferrogate processes and one "
             "serving the plain route, both on the proxy's CPU, loaded at the same moment by "
             "two wrk with half the connections each; CPU per request of each over the same "
             "seconds. Each process then has the CPU about half the time, so both figures "
             "are above those of runs alone; their difference is the configuration's cost, "
             "erring high, since the process touching more memory also pays for the other's "
             "cache misses.",
             "",
             "| target | its CPU (µs/request) | plain route beside it | added (µs/request) "
             "| proxy core busy (%) | errors | redone |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for side in sc["side_by_side"].values():
        s = side["summary"]
        added = s.get("added_cpu_us_per_request")
        added_cell = "-" if added is None else (
            f"{added['median']:+.2f}" if added["n"] == 1 or added["min"] == added["max"]
            else f"{added['median']:+.2f} ({added['min']:+.2f} – {added['max']:+.2f})")
        lines.append(f"| {side['label']} | {cell(s.get('cpu_us_per_request'), '{:.2f}')} | "
                     f"{cell(s.get('baseline_cpu_us_per_request'), '{:.2f}')} | {added_cell} | "
                     f"{cell(s.get('proxy_core_busy_pct'), '{:.0f}')} | {s['errors']} | "
                     f"{s['redone']} |")
    return lines + [""]


def latency_markdown(sc):
    """The latency distribution of each target: where in it two targets part tells a
    difference of the whole distribution (cost) from one of its tail (stalls). Runs that
    recorded only the average and p99 render no table."""
    rows = list(sc["targets"].values())
    if not any(t["summary"].get("p50_ms") for t in rows):
        return []
    wakes = any(t["summary"].get("load_cpu_wake_interrupts_per_request") for t in rows)
    title = ("Latency distribution (ms), median (min–max) of the repetitions, and each "
             "request's cycle (ms) with the load generator's turnaround in it (µs)")
    columns = ["p50", "p90", "p99", "longest", "cycle", "turnaround (µs)"]
    if wakes:
        title += ", and the wake-up interrupts the load generator's CPU took per request"
        columns.append("load CPU wake-ups")
    lines = [f"{title}:", "", f"| target | {' | '.join(columns)} |",
             "| --- |" + " ---: |" * len(columns)]
    for t in rows:
        s = t["summary"]
        cells = [cell(s.get(m), "{:.3f}") for m in [*LATENCY_PERCENTILES, "max_ms", "cycle_ms"]]
        cells.append(cell(s.get("turnaround_us"), "{:.0f}"))
        if wakes:
            cells.append(cell(s.get("load_cpu_wake_interrupts_per_request"), "{:.3f}"))
        lines.append(f"| {t['label']} | {' | '.join(cells)} |")
    return lines + [""]


def format_value(t, v):
    if v is None:
        return "-"
    return f"{v:.2f}x" if t["kind"] == "ratio" else f"{v:+.2f} µs"


def beside_text(t, b):
    text = f"{b['what']}: {format_value(t, b['value'])}"
    if "range" in b:
        text += f" ({format_value(t, b['range'][0])} – {format_value(t, b['range'][1])})"
    return text


def targets_markdown(tlist):
    lines = ["| # | target | measured | limit | verdict | range of the repetitions | "
             "of medians | beside | caveats |",
             "| --- | --- | ---: | ---: | --- | --- | ---: | --- | --- |"]
    for t in tlist:
        limit = f"≤ {t['limit']:.2f}x" if t["kind"] == "ratio" else f"≤ {t['limit']:+.0f} µs"
        if t["verdict"] == "NOT MEASURED":
            lines.append(f"| {t['id']} | {t['title']} | - | {limit} | not measured | | | | |")
            continue
        if t["range"][0] == t["range"][1]:
            rng = "single repetition"
        else:
            rng = (f"{format_value(t, t['range'][0])} – {format_value(t, t['range'][1])}"
                   + ("" if t["clear_of_spread"] else " (straddles the limit)"))
        beside = "; ".join(beside_text(t, b) for b in t["beside"])
        of_medians = format_value(t, t.get("of_medians"))
        measured = format_value(t, t["value"])
        if t.get("method") == "side by side":
            measured += " (side by side)"
        lines.append(f"| {t['id']} | {t['title']} | {measured} | {limit} | "
                     f"**{t['verdict']}** | {rng} | {of_medians} | {beside} | "
                     f"{'; '.join(t['caveats'])} |")
    return lines


READING = """\
## How to read this

- **Set-up.** Every process binds 127.0.0.1 on free ports. The upstream is nginx (1 worker)
  answering every request with a fixed 1 KiB body, keep-alive. Each proxy under test runs
  pinned to one CPU (`taskset`, `PROXY_CPU`): Ferrogate (release build; its tokio runtime
  sizes itself from the CPUs it may run on, so 1 worker thread: see the thread list of the
  plain scenario), nginx (1 worker, `upstream { keepalive 32; }`), HAProxy (`nbthread 1`,
  `http-reuse always`). In the plain scenario, `floor` (tests/perf/floor, built like
  Ferrogate) is the least a tokio proxy on the `http` types does per request: parse the head
  into a header map, add the three X-Forwarded fields, forward it over a pooled connection,
  relay a Content-Length response with one `writev`; no routing, timeouts, limits or
  bodies. It shows what the kernel and the bare parsing cost any such proxy here.
  `floor over io_uring` (perf-floor-uring, the same crate) does the same work on one
  io_uring instead of tokio's epoll loop: a multishot receive armed on every socket with
  provided buffers (no `recv` call, no readiness wait, no re-arming per request), sends and
  writes queued and submitted by the one `io_uring_enter` per pass of its loop that also
  waits for completions. It shows whether batching the system calls lowers that cost. The
  load generator and the upstream share the other CPU
  (`LOAD_CPU`). No proxy logs requests. Each proxy adds X-Forwarded-For, -Proto and -Host
  (what Ferrogate's ReverseProxyHandler does) and keeps its upstream connections alive;
  nothing closes a connection during a run (keep-alive request limits and timeouts are
  raised on nginx and HAProxy). Ferrogate's configuration: one `ReverseProxyHandler` with a
  `baseURI` in config.json's heap, used by every route; the router loads its routes once
  (`scanInterval: disabled`); HTTPS and h2c through admin.json `connectors`.
- **Repetitions.** The targets of a scenario run one after the other, `REPS` times, every
  other repetition in reverse order; each run follows a warm-up. Tables give the median and,
  in parentheses, the min–max of the repetitions.
- **requests/s, avg and p99 latency**: wrk's (`--latency`), or, for the HTTP/2 front,
  h2load's (the mean and percentiles come from its per-request log, taken at the nearest
  rank as wrk takes them).
- **Latency distribution**: p50, p90, p99 and the longest request of each run. With the
  proxy's core saturated, a closed loop of wrk's connections makes the body of the
  distribution follow the CPU per request; the tail follows stalls of the VM as well, which
  the upstream alone shows in its longest request. Two proxies whose p50 and p90 agree and
  whose p99 differ part in the tail only; 1b's "beside" gives the p50 and p90 ratios.
- **cycle and turnaround**: wrk keeps each connection's next request waiting until its
  event loop comes round to the connection again, so a request's cycle (connections /
  requests per second, Little's law; for h2load its streams) is wrk's latency plus wrk's
  own turnaround, from reading a response to writing the next request. With both CPUs
  busy, the cycle follows the proxy's CPU per request, and the turnaround how the proxy's
  responses fall into the batches of wrk's event loop: a proxy whose responses come
  bunched gives wrk longer batches, and keeps its own latency shorter by the same amount,
  at the same throughput. 1b's "beside" gives the ratio of the cycles. A run with long
  stalls can show a negative turnaround: wrk's average then exceeds what its requests/s
  allow (Little's law), a disagreement within wrk's own figures; read the medians.
- **load CPU wake-ups**: the rescheduling and function-call interrupts the load generator's
  CPU took during the run (`/proc/interrupts`), per request. A proxy's send wakes the
  load generator or the upstream with one when that CPU is idle: a proxy that keeps it
  busy rarely needs them, one that leaves it idle between responses pays for each in its
  system time, dearly on a VM. The proxy's CPU's own count is in performance.json.
- **proxy CPU (µs/request)**: the proxy's utime+stime (`/proc/PID/stat`: all its threads,
  those that ended included; nginx master + worker) after the run minus before, divided by
  the requests the load generator completed. Clock-tick resolution (usually 10 ms) over the
  whole run.
- **of which user / system**: the medians of the same figure from utime and stime alone:
  the proxy's own code, and the kernel's work on its behalf (system calls, and the TCP
  processing that loopback does in the sending process). The floor's system time is about
  what the kernel costs any proxy per request here; 1a's "beside" sets it against nginx.
- **proxy core (µs/request)**: everything the proxy's CPU did during the run (`/proc/stat`:
  user, system, irq and softirq) per request; it adds the kernel's interrupt work for the
  proxy's sockets, which the process times may leave out, and any other process on that CPU.
- **proxy busy (%)**: the proxy's CPU time over the run's duration. Near 100 % the proxy's
  core is the bottleneck, as intended; well below (flagged below 90 %), the other CPU (load
  generator plus upstream) limited the rate, and latency and requests/s say little about the
  proxy. CPU per request stays meaningful.
- **Other processes.** During each run the harness compares what each CPU was busy with
  (`/proc/stat` user+nice+system) with the CPU time of the run's processes: the proxy (and
  that CPU's ksoftirqd) on one, the upstream, the load generator (and ksoftirqd) on the
  other. When the rest exceeds `FOREIGN_MAX` % of either CPU, or the hypervisor stole as
  much, the run is redone, up to `MAX_REDO` times; "redone" counts those, and a run still
  noisy after that is kept and listed in the caveats. Each run's raw tick counts, and the
  proxy's minor page faults per request (memory its allocator gave back and took again),
  are in performance.json.
- **Idle connections**: RSS per connection is the growth of the proxy's VmRSS divided by the
  connections opened. "oldest idle at reading" is how long the first connection had been
  idle when the RSS was read; a proxy that closes idle connections sooner shows them in
  "closed while idle" (the second request on each fails), and its RSS figure is then
  invalid.
- **Targets** compare two targets of one scenario: ratios (Ferrogate / reference) or
  differences (µs of CPU per request). Each repetition ran the two one after the other, so
  the figure is taken within each repetition and the target's value is the median of those,
  the range their min–max: this machine's speed drifts from one repetition to the next (by
  a third within a minute, with no steal time showing), and a drift then moves both runs of
  a repetition alike rather than one median. The differences of the filters scenario (2a,
  2b), about a microsecond, are smaller than the drift within seconds, so they are measured
  side by side: the filter route's Ferrogate and one serving the plain route, both on the
  proxy's CPU, each loaded by its own wrk at the same moment, each one's CPU time read over
  the same seconds (the scenario's "Side by side" table). The two share the core's caches,
  and the one touching more memory pays for the other's misses too, so the difference
  errs high: a pass side by side holds alone. A second Ferrogate serving the plain route
  (`ferrogate-twin`) is measured both ways as a filter route is: it adds nothing, so what
  it shows beside 2a and 2b, "the method's zero", is what each method can resolve in that
  run. The same targets' runs alone are
  beside them, each filter run set against the mean of the plain-route runs just before and
  after it (the plain route runs between Ferrogate's filter runs; its row summarises all
  those runs), in which a steady drift cancels but not a faster one. "of medians" is the
  same figure from the two medians, for comparison. A verdict whose range straddles the
  limit is within the noise; rerun with more repetitions. "beside" gives the same figure
  against HAProxy, the floor's against nginx, other percentiles of the same latencies, or
  the reference proxies' own cost of the same work.
- **Rerun one scenario**: `tests/perf/run routes`; the other scenarios of this file are kept
  with the date and commit that measured them.
"""


def seconds(duration):
    """wrk/h2load duration text (10s, 2m, 500ms, 10) in seconds."""
    text = str(duration or "0").strip()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    return float(text)


def markdown(data):
    m = data["latest_run"]
    lines = ["# Performance", ""]
    if data.get("note"):
        lines += [f"> **{data['note']}**", ""]
    short = [name for name, sc in data["scenarios"].items()
             if int(sc["run"]["settings"].get("REPS", 0)) < 3
             or (name != "idle" and seconds(sc["run"]["settings"].get("DURATION")) < 10)]
    if short:
        lines += [f"> Short settings (fewer than 3 repetitions or runs under 10 s) in: "
                  f"{', '.join(short)}. Those figures are indicative only.", ""]
    lines += ["Ferrogate beside nginx and HAProxy as reverse proxies in front of the same "
              "upstream, one CPU for the proxy. Generated by `tests/perf/run` (see "
              "[How to read this](#how-to-read-this)); the same data, with every run, is in "
              "[performance.json](performance.json).", "",
              "## Machine and versions", "",
              "| | |", "| --- | --- |",
              f"| date | {m['date']} |",
              f"| command | `{m.get('command', '')}` |"]
    for k, v in m["machine"].items():
        lines.append(f"| {k.replace('_', ' ')} | {v} |")
    for k, v in m["versions"].items():
        lines.append(f"| {k.replace('_', ' ')} | {v} |")
    st = m["settings"]
    lines.append(f"| settings | proxy on CPU {st.get('PROXY_CPU')}, load generator and "
                 f"upstream on CPU {st.get('LOAD_CPU')}; DURATION={st.get('DURATION')} "
                 f"REPS={st.get('REPS')} WARMUP={st.get('WARMUP')} "
                 f"FOREIGN_MAX={st.get('FOREIGN_MAX')}% MAX_REDO={st.get('MAX_REDO')} |")
    lines += ["", "## Targets", ""] + targets_markdown(data["targets"]) + ["", "## Scenarios", ""]
    for name in SCENARIO_ORDER:
        if name in data["scenarios"]:
            lines += scenario_markdown(name, data["scenarios"][name])
    upstream_log = data.get("upstream_log")
    if upstream_log:
        lines += [f"The upstream logged: `{upstream_log}`", ""]
    lines.append(READING)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", required=True, help="runs.jsonl, or - to re-render --json")
    parser.add_argument("--meta")
    parser.add_argument("--scenarios", default="")
    parser.add_argument("--json", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--note", default=None)
    args = parser.parse_args()

    if args.runs == "-":
        # Re-render: the runs and run descriptions of an existing performance.json, with
        # the current summaries, targets and text.
        with open(args.json, encoding="utf-8") as f:
            data = json.load(f)
        for name, scenario in data["scenarios"].items():
            scenario["description"] = describe_scenario(name, scenario["run"]["settings"])
            summarise(name, scenario)
        if args.note is not None:
            data["note"] = args.note
        write(data, args)
        return

    meta = read_meta(args.meta)
    with open(args.runs, encoding="utf-8") as f:
        runs = [json.loads(line) for line in f if line.strip()]
    data = {"format": FORMAT, "scenarios": {}}
    if os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as f:
            old = json.load(f)
        if old.get("format") == FORMAT:
            data["scenarios"] = old.get("scenarios", {})
    for name in args.scenarios.split():
        data["scenarios"][name] = build_scenario(
            name, [r for r in runs if r["scenario"] == name], meta)
    data["scenarios"] = {k: data["scenarios"][k] for k in SCENARIO_ORDER
                         if k in data["scenarios"]}
    data["note"] = args.note or ""
    data["latest_run"] = {"date": meta.get("date"), "command": meta.get("command"),
                          "scenarios": args.scenarios.split(),
                          "machine": group(meta, "machine."),
                          "versions": group(meta, "version."),
                          "settings": group(meta, "setting.")}
    upstream = meta.get("log.all.upstream-direct", "0").partition(" ")
    data["upstream_log"] = upstream[2].strip() if upstream[0] != "0" else ""
    write(data, args)


def write(data, args):
    data["targets"] = targets(data["scenarios"])
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write(markdown(data))

    print("\nTargets:")
    for t in data["targets"]:
        if t["verdict"] == "NOT MEASURED":
            print(f"  {t['id']:3} {t['title']}: not measured")
            continue
        beside = "".join(f"; {beside_text(t, b)}" for b in t["beside"])
        limit = f"{t['limit']}x" if t["kind"] == "ratio" else f"{t['limit']:+} us"
        print(f"  {t['id']:3} {t['title']}: {format_value(t, t['value'])} (limit {limit}) "
              f"{t['verdict']}{beside}")
        for c in t["caveats"]:
            print(f"        caveat: {c}")
    print(f"\nWritten: {args.markdown}, {args.json}")


if __name__ == "__main__":
    sys.exit(main())
