"""Measuring scripts: figures for docs/performance.md and docs/accuracy.md, not tests. Each runs from the
repository root as a module, ``python -m benchmarks.<name> --help`` (needs the test extras: playwright and
Debian's chromium). ``python -m benchmarks.page_shots --docs`` refreshes the pictures in docs/images/.

browser_helpers        what they share: the one app launcher (``start_app``, also the browser tests' server),
                       headless Chromium, memory of a process tree (PSS)
load_test              many sessions press Start at once while others browse (quick mode)
measure_app_vs_cli     training throughput in the app (a browser pressing Start) against the CLI
measure_two_sessions   two sessions pressing Start at once against one alone and the CLI
measure_quick_demo     the hosted demo's quick mode: server memory and time to the first result
playground_check       draw a digit on the Playground and time the answers
page_shots             screenshots of app pages and their charts
newcomer_journey       a newcomer's first visit, step by step, with a screenshot at each step

The accuracy table is a user feature of the engine: ``python -m core accuracy``.
"""
