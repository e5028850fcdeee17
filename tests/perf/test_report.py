"""Unit tests of report.py's summaries and targets (python3 -m unittest, from tests/perf)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def run(target, rep, cpu, user=None, system=None, p99=1.0, scenario="plain", spread=None):
    """A run record; spread is (p50, p90, longest) in ms, which runs before the harness
    recorded them lack."""
    record = {"scenario": scenario, "target": target, "rep": rep, "requests": 1000,
              "rps": 1000.0, "avg_ms": 0.5, "p99_ms": p99, "errors": 0, "redone": 0,
              "noisy": False, "cpu_us_per_request": cpu, "core_us_per_request": cpu,
              "user_us_per_request": user, "system_us_per_request": system,
              "proxy_busy_pct": 98.0}
    if spread:
        record.update(zip(("p50_ms", "p90_ms", "max_ms"), spread))
    return record


def side(target, rep, cpu, baseline_cpu, **fields):
    """A side-by-side run record: TARGET beside the plain route, each with its CPU."""
    record = {"scenario": "filters", "target": target, "baseline": "ferrogate-proxy",
              "rep": rep, "tool": "wrk-side-by-side", "started": 10.0 * rep,
              "requests": 1000, "baseline_requests": 1000, "errors": 0,
              "cpu_us_per_request": cpu, "baseline_cpu_us_per_request": baseline_cpu,
              "user_us_per_request": cpu / 2, "baseline_user_us_per_request": cpu / 2,
              "proxy_core_busy_pct": 99.0, "redone": 0, "noisy": False}
    record.update(fields)
    return record


def plain(runs):
    return {"plain": report.build_scenario("plain", runs, {"setting.REPS": "2"})}


def filters(runs):
    return {"filters": report.build_scenario("filters", runs, {"setting.REPS": "3"})}


class TargetsTest(unittest.TestCase):
    def test_ratio_is_the_median_of_the_repetitions_ratios(self):
        runs = [run("ferrogate-proxy", 1, 20.0), run("ferrogate-proxy", 2, 22.0),
                run("nginx-proxy", 1, 20.0), run("nginx-proxy", 2, 20.0),
                run("floor-proxy", 1, 16.0, 3.0, 13.0), run("floor-proxy", 2, 16.0, 3.0, 13.0)]
        one_a = next(t for t in report.targets(plain(runs)) if t["id"] == "1a")
        self.assertEqual(one_a["value"], 1.05)
        self.assertEqual(one_a["verdict"], "FAIL")
        self.assertEqual(one_a["range"], [1.0, 1.1])
        self.assertEqual(one_a["paired"], 2)

    def test_difference_pairs_runs_of_one_repetition_against_drift(self):
        # The machine ran slow in the first repetition and fast in the second: the plain
        # route's median falls between two filter runs that each cost 0.5 µs more than
        # the plain run beside them.
        cpu = [("ferrogate-proxy", [30.0, 20.0, 24.0]),
               ("ferrogate-filter1", [30.5, 20.5, 26.0])]
        runs = [run(target, rep, value, scenario="filters")
                for target, values in cpu for rep, value in enumerate(values, 1)]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        self.assertEqual(two_a["value"], 0.5)
        self.assertEqual(two_a["verdict"], "PASS")
        self.assertEqual(two_a["of_medians"], 2.0)
        self.assertEqual(two_a["range"], [0.5, 2.0])
        self.assertFalse(two_a["clear_of_spread"])

    def test_difference_sets_each_run_against_the_baseline_runs_either_side(self):
        # The machine slows down steadily through each repetition, by 1 µs per plain-route
        # run: a filter costing 0.5 µs measures 1.0 or 0.0 against either neighbour alone,
        # and 0.5 against their mean. The second repetition ran in reverse.
        def timed(target, rep, started, cpu):
            return dict(run(target, rep, cpu, scenario="filters"), started=started)
        order = [(1, "proxy", 20.0), (1, "filter1", 21.0), (1, "proxy", 21.0),
                 (1, "filter10", 25.5), (1, "proxy", 22.0),
                 (2, "proxy", 30.0), (2, "filter10", 33.5), (2, "proxy", 29.0),
                 (2, "filter1", 29.0), (2, "proxy", 28.0)]
        runs = [timed(f"ferrogate-{variant}", rep, 100.0 + 12 * i, cpu)
                for i, (rep, variant, cpu) in enumerate(order)]
        by_id = {t["id"]: t for t in report.targets(filters(runs))}
        self.assertEqual((by_id["2a"]["value"], by_id["2a"]["range"]), (0.5, [0.5, 0.5]))
        self.assertEqual((by_id["2b"]["value"], by_id["2b"]["range"]), (4.0, [4.0, 4.0]))
        self.assertEqual(by_id["2a"]["paired"], 2)

    def test_a_run_with_the_baseline_on_one_side_only_takes_that_one(self):
        runs = [dict(run("ferrogate-proxy", 1, 20.0, scenario="filters"), started=10.0),
                dict(run("ferrogate-proxy", 1, 40.0, scenario="filters"), started=30.0),
                dict(run("ferrogate-filter1", 1, 41.0, scenario="filters"), started=50.0)]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        self.assertEqual(two_a["value"], 1.0)

    def test_side_by_side_runs_give_2a_and_2b_with_the_runs_alone_beside(self):
        # Alone, the machine's drift between runs made the filter look cheaper than the
        # plain route; side by side, both moved alike from one repetition to the next.
        runs = [run("ferrogate-proxy", 1, 30.0, scenario="filters"),
                run("ferrogate-filter1", 1, 25.0, scenario="filters"),
                side("ferrogate-filter1", 1, 40.3, 40.0), side("ferrogate-filter1", 2, 30.5, 30.0),
                side("ferrogate-filter1", 3, 36.9, 36.0),
                side("ferrogate-filter10", 1, 44.0, 40.0)]
        scenarios = filters(runs)
        by_id = {t["id"]: t for t in report.targets(scenarios)}
        self.assertEqual((by_id["2a"]["value"], by_id["2a"]["range"]), (0.5, [0.3, 0.9]))
        self.assertEqual(by_id["2a"]["method"], "side by side")
        self.assertEqual(by_id["2a"]["paired"], 3)
        self.assertEqual((by_id["2a"]["target_median"], by_id["2a"]["reference_median"]),
                         (36.9, 36.0))
        beside = {b["what"]: b["value"] for b in by_id["2a"]["beside"]}
        self.assertEqual(beside["Ferrogate run alone, against the plain route's runs either side"],
                         -5.0)
        self.assertEqual(by_id["2b"]["value"], 4.0)
        self.assertEqual(by_id["2b"]["method"], "side by side")
        # The side-by-side records stay out of the targets' own rows.
        self.assertEqual(len(scenarios["filters"]["targets"]["ferrogate-filter1"]["runs"]), 1)
        lines = report.scenario_markdown("filters", scenarios["filters"])
        row = next(line for line in lines if line.startswith("| Ferrogate, 1 HeaderFilter | 36"))
        self.assertEqual(row, "| Ferrogate, 1 HeaderFilter | 36.90 (30.50–40.30) | "
                              "36.00 (30.00–40.00) | +0.50 (+0.30 – +0.90) | 99 | 0 | 0 |")
        table = report.targets_markdown(report.targets(scenarios))
        two_a_row = next(line for line in table if line.startswith("| 2a"))
        self.assertIn("| +0.50 µs (side by side) |", two_a_row)

    def test_side_by_side_targets_name_their_own_noise_and_keep_the_caveats_of_the_runs_alone(self):
        noisy_alone = dict(run("ferrogate-filter1", 1, 21.0, scenario="filters"), noisy=True,
                           foreign_proxy_core_pct=0.0, foreign_load_core_pct=0.0, steal_pct=9.0)
        beside = side("ferrogate-filter1", 1, 30.4, 30.0, errors=2, proxy_core_busy_pct=85.0,
                      redone=3, noisy=True, foreign_proxy_core_pct=4.2,
                      foreign_load_core_pct=0.3, steal_pct=1.0)
        runs = [run("ferrogate-proxy", 1, 20.0, scenario="filters"), noisy_alone, beside]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        self.assertEqual(two_a["caveats"], [
            "Ferrogate, 1 HeaderFilter, side by side: 2 errors",
            "Ferrogate, 1 HeaderFilter, side by side: 1 noisy run(s) kept (other processes "
            "took up to 4% of a CPU, the hypervisor stole up to 1%)",
            "Ferrogate, 1 HeaderFilter, side by side: its CPU was idle 15% of the time "
            "(not the bottleneck)",
            "runs alone: Ferrogate, 1 HeaderFilter: 1 noisy run(s) kept (other processes "
            "took up to 0% of a CPU, the hypervisor stole up to 9%)"])

    def test_the_plain_routes_second_instance_gives_each_methods_zero(self):
        runs = [run("ferrogate-proxy", 1, 20.0, scenario="filters"),
                run("ferrogate-twin", 1, 20.75, scenario="filters"),
                run("ferrogate-filter1", 1, 21.0, scenario="filters"),
                side("ferrogate-filter1", 1, 30.5, 30.0), side("ferrogate-twin", 1, 30.0, 30.25),
                side("ferrogate-twin", 2, 25.25, 25.0), side("ferrogate-twin", 3, 25.0, 25.0)]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        zeros = {b["what"]: (b["value"], b["range"]) for b in two_a["beside"] if "range" in b}
        self.assertEqual(zeros, {
            "the plain route against itself, side by side (the method's zero)":
                (0.0, [-0.25, 0.25]),
            "the plain route against itself, one after the other (the method's zero)":
                (0.75, [0.75, 0.75])})
        row = next(line for line in report.targets_markdown([two_a]) if line.startswith("| 2a"))
        self.assertIn("the plain route against itself, side by side (the method's zero): "
                      "+0.00 µs (-0.25 µs – +0.25 µs)", row)
        self.assertEqual(report.label("ferrogate-twin", {}),
                         "Ferrogate, the plain route again (a second instance)")

    def test_without_side_by_side_runs_2a_is_taken_from_the_runs_alone(self):
        runs = [run("ferrogate-proxy", 1, 20.0, scenario="filters"),
                run("ferrogate-filter1", 1, 20.4, scenario="filters")]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        self.assertEqual((two_a["value"], two_a["method"]), (0.4, "one after the other"))

    def test_the_called_header_filter_is_set_beside_2a(self):
        cpu = [("ferrogate-proxy", [20.0, 22.0]), ("ferrogate-filter1", [20.1, 22.1]),
               ("ferrogate-called1", [21.0, 23.4])]
        runs = [run(target, rep, value, scenario="filters")
                for target, values in cpu for rep, value in enumerate(values, 1)]
        two_a = next(t for t in report.targets(filters(runs)) if t["id"] == "2a")
        beside = {b["what"]: b["value"] for b in two_a["beside"]}
        called = "Ferrogate, the HeaderFilter called (an expression value) - plain"
        self.assertEqual(beside[called], 1.2)
        self.assertEqual(two_a["value"], 0.1)
        self.assertEqual(report.label("ferrogate-called1", {}),
                         "Ferrogate, 1 HeaderFilter with an expression value (called)")

    def test_a_repetition_only_one_target_ran_is_not_paired(self):
        runs = [run("ferrogate-proxy", 1, 20.0), run("nginx-proxy", 1, 25.0),
                run("ferrogate-proxy", 2, 40.0)]
        one_a = next(t for t in report.targets(plain(runs)) if t["id"] == "1a")
        self.assertEqual(one_a["paired"], 1)
        self.assertEqual(one_a["value"], 0.8)
        self.assertEqual(one_a["of_medians"], 1.2)

    def test_a_noisy_run_kept_is_a_caveat_naming_what_took_the_cpu(self):
        noisy = dict(run("ferrogate-proxy", 1, 20.0), noisy=True, foreign_proxy_core_pct=0.4,
                     foreign_load_core_pct=1.2, steal_pct=21.5)
        one_a = next(t for t in report.targets(plain([noisy, run("nginx-proxy", 1, 20.0)]))
                     if t["id"] == "1a")
        self.assertIn("Ferrogate: 1 noisy run(s) kept (other processes took up to 1% of a CPU, "
                      "the hypervisor stole up to 22%)", one_a["caveats"])

    def test_floor_system_time_is_set_against_nginx_total(self):
        runs = [run("ferrogate-proxy", 1, 20.0), run("nginx-proxy", 1, 20.0),
                run("floor-proxy", 1, 16.0, 3.0, 13.0)]
        one_a = next(t for t in report.targets(plain(runs)) if t["id"] == "1a")
        beside = {b["what"]: b["value"] for b in one_a["beside"]}
        self.assertEqual(beside["floor / nginx"], 0.8)
        self.assertEqual(beside["floor's system time alone / nginx"], 0.65)

    def test_io_uring_floor_is_set_against_nginx_when_it_ran(self):
        runs = [run("ferrogate-proxy", 1, 20.0), run("nginx-proxy", 1, 20.0),
                run("floor-proxy", 1, 16.0, 3.0, 13.0), run("floor-uring", 1, 17.0, 2.0, 15.0)]
        one_a = next(t for t in report.targets(plain(runs)) if t["id"] == "1a")
        beside = {b["what"]: b["value"] for b in one_a["beside"]}
        self.assertEqual(beside["floor over io_uring / nginx"], 0.85)
        self.assertEqual(beside["floor over io_uring, its system time alone / nginx"], 0.75)
        self.assertIn("io_uring", report.label("floor-uring", {}))
        self.assertNotIn("io_uring", report.label("floor-proxy", {}))

    def test_without_io_uring_the_floor_over_it_is_left_out(self):
        runs = [run("ferrogate-proxy", 1, 20.0), run("nginx-proxy", 1, 20.0),
                run("floor-proxy", 1, 16.0, 3.0, 13.0)]
        one_a = next(t for t in report.targets(plain(runs)) if t["id"] == "1a")
        self.assertFalse(any("io_uring" in b["what"] for b in one_a["beside"]))

    def test_runs_without_the_split_render_a_dash(self):
        scenarios = plain([run("nginx-proxy", 1, 20.0)])
        lines = report.scenario_markdown("plain", scenarios["plain"])
        row = next(line for line in lines if line.startswith("| nginx |"))
        self.assertEqual(row.split(" | ")[5], "-")
        scenarios = plain([run("nginx-proxy", 1, 20.0, 4.5, 15.5)])
        row = next(line for line in report.scenario_markdown("plain", scenarios["plain"])
                   if line.startswith("| nginx |"))
        self.assertEqual(row.split(" | ")[5], "4.50 / 15.50")

    def test_1b_sets_the_body_of_the_distribution_beside_its_tail(self):
        # Equal up to p90, apart in p99 only: each ratio is paired by repetition.
        runs = [run("ferrogate-proxy", 1, 20.0, p99=0.6, spread=(0.30, 0.40, 5.0)),
                run("ferrogate-proxy", 2, 20.0, p99=0.9, spread=(0.33, 0.44, 9.0)),
                run("nginx-proxy", 1, 20.0, p99=0.5, spread=(0.30, 0.40, 4.0)),
                run("nginx-proxy", 2, 20.0, p99=0.6, spread=(0.30, 0.40, 6.0))]
        one_b = next(t for t in report.targets(plain(runs)) if t["id"] == "1b")
        beside = {b["what"]: b["value"] for b in one_b["beside"]}
        self.assertEqual(one_b["value"], 1.35)
        self.assertEqual(beside["p50, Ferrogate / nginx"], 1.05)
        self.assertEqual(beside["p90, Ferrogate / nginx"], 1.05)

    def test_1b_sets_the_second_clients_p99_ratio_beside_wrks(self):
        wrk_runs = [run("ferrogate-proxy", 1, 20.0, p99=0.6), run("nginx-proxy", 1, 20.0, p99=0.5)]
        h2load_runs = [dict(run("ferrogate-proxy", rep, 20.0, p99=p99, scenario="plain-h2load"),
                            tool="h2load-h1")
                       for rep, p99 in ((1, 0.57), (2, 0.55))]
        h2load_runs += [dict(run("nginx-proxy", rep, 20.0, p99=0.6, scenario="plain-h2load"),
                             tool="h2load-h1") for rep in (1, 2)]
        scenarios = plain(wrk_runs)
        scenarios["plain-h2load"] = report.build_scenario("plain-h2load", h2load_runs,
                                                          {"setting.REPS": "2"})
        one_b = next(t for t in report.targets(scenarios) if t["id"] == "1b")
        beside = {b["what"]: b["value"] for b in one_b["beside"]}
        self.assertEqual(one_b["value"], 1.2)
        self.assertEqual(beside["p99 with h2load --h1 as the client, Ferrogate / nginx"], 0.933)

    def test_the_cycle_splits_into_latency_and_the_load_generators_turnaround(self):
        # 32 connections at 80,000 requests/s: 0.4 ms from one request of a connection to
        # the next, of which wrk measured 0.35 as latency.
        record = dict(run("nginx-proxy", 1, 10.0), rps=80_000.0, avg_ms=0.35)
        report.add_cycle(record, {"CONNECTIONS": "32"})
        self.assertEqual((record["cycle_ms"], record["turnaround_us"]), (0.4, 50.0))
        # h2load keeps a request per stream outstanding.
        record = dict(run("nginx-proxy", 1, 10.0), tool="h2load", rps=64_000.0, avg_ms=0.4)
        report.add_cycle(record, {"H2_CONNECTIONS": "8", "H2_STREAMS": "4"})
        self.assertEqual((record["cycle_ms"], record["turnaround_us"]), (0.5, 100.0))

    def test_latency_distribution_table_only_for_runs_that_recorded_it(self):
        runs = [run("nginx-proxy", 1, 20.0, p99=0.5, spread=(0.3, 0.4, 4.0)),
                run("nginx-proxy", 2, 20.0, p99=0.7, spread=(0.3, 0.4, 6.0))]
        lines = report.scenario_markdown("plain", plain(runs)["plain"])
        row = next(line for line in lines if line.startswith("| nginx | 0.300"))
        self.assertEqual(row, "| nginx | 0.300 | 0.400 | 0.600 (0.500–0.700) | "
                              "5.000 (4.000–6.000) | 32.000 | 31500 |")
        older = report.scenario_markdown("plain", plain([run("nginx-proxy", 1, 20.0)])["plain"])
        self.assertFalse(any(line.startswith("| target | p50") for line in older))

    def test_load_cpu_wake_ups_get_a_column_once_a_run_counted_them(self):
        runs = [dict(run("nginx-proxy", rep, 20.0, spread=(0.3, 0.4, 4.0)),
                     load_cpu_wake_interrupts_per_request=wakes,
                     proxy_cpu_wake_interrupts_per_request=0.01)
                for rep, wakes in ((1, 0.2), (2, 0.05), (3, 0.1))]
        # A listing without them (another architecture) left the floor's runs without a count.
        runs.append(run("floor-proxy", 1, 15.0, spread=(0.3, 0.4, 4.0)))
        lines = report.scenario_markdown("plain", plain(runs)["plain"])
        header = next(line for line in lines if line.startswith("| target | p50"))
        self.assertTrue(header.endswith("| turnaround (µs) | load CPU wake-ups |"), header)
        nginx = next(line for line in lines if line.startswith("| nginx | 0.300"))
        self.assertTrue(nginx.endswith("| 0.100 (0.050–0.200) |"), nginx)
        floor = next(line for line in lines
                     if line.startswith("| floor: minimal tokio proxy (tests/perf/floor) | 0.300"))
        self.assertTrue(floor.endswith("| - |"), floor)

    def test_unmeasured_target_is_not_a_pass(self):
        one_a = next(t for t in report.targets(plain([run("nginx-proxy", 1, 20.0)]))
                     if t["id"] == "1a")
        self.assertEqual(one_a["verdict"], "NOT MEASURED")


if __name__ == "__main__":
    unittest.main()
